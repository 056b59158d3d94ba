import { DomainError } from '../errors/domain-error';
import { validateCohort } from './cohort';
import { DEADLINE_POLICIES, type PlanStep, type RolloutPlan } from './rollout.types';
import { DEFAULT_WATCH } from './watch';

const HOUR_SECONDS = 60 * 60;
const DAY_SECONDS = 24 * HOUR_SECONDS;

/** Past this a step's minimum is likelier a unit mistake (ms typed as s) than an intent to wait months. */
export const MAX_STEP_DURATION_SECONDS = 90 * DAY_SECONDS;

/** A holdback is a small control group; past this it is a second canary. */
export const MAX_HOLDBACK_PERCENT = 50;

/** One problem with a plan, located like a form field so the API can return it as a 400 naming the field. */
export interface PlanIssue {
  /** e.g. `steps[2].weight`, or `steps` for problems with the plan as a whole. */
  readonly path: string;
  readonly message: string;
}

/**
 * The seed's standard process: shadow for 3-7 days, then 5% → 20% → 50% → 100% with 48 h at each stage,
 * and the baseline kept warm for 48 h after 100% so rollback stays instant.
 *
 * Shadow takes the 3-day end of the range because durations are minimums: an Inconclusive analysis holds
 * the step for longer anyway. It mirrors every baseline request (sampleRate 1) because shadow serves nobody,
 * so the only price is candidate compute, while the paired comparison wants as many samples as the window
 * can give; plans for candidates that cannot take the full load should lower it.
 *
 * Every step has a progress deadline of twice its minimum with the rollback policy (Flagger's and Argo
 * Rollouts' progressDeadlineSeconds): a step whose analysis still cannot decide by then rolls back rather
 * than serving a possibly worse candidate to a slice of users for ever. Past it, a grace of four times
 * the minimum holds a step whose analysis is on track (every undecided guardrail within its limit
 * and projected to show its bound within the grace): a very active user base makes evidence grow
 * slowly, and an identical candidate should not be rolled back for it. These are the deadlines the
 * guardrail simulations run (rollout-simulation.ts), so their figures are the plan's as shipped.
 */
export const DEFAULT_PLAN: RolloutPlan = freezePlan([
  { type: 'shadow', sampleRate: 1, ...lasting(3 * DAY_SECONDS) },
  { type: 'setWeight', weight: 5, ...lasting(48 * HOUR_SECONDS) },
  { type: 'setWeight', weight: 20, ...lasting(48 * HOUR_SECONDS) },
  { type: 'setWeight', weight: 50, ...lasting(48 * HOUR_SECONDS) },
  { type: 'setWeight', weight: 100, ...lasting(48 * HOUR_SECONDS) },
  { type: 'bake', ...lasting(48 * HOUR_SECONDS) },
]);

/**
 * DEFAULT_PLAN's shape with every step shortened to `secondsPerStep`, for demos and tests. It has no
 * deadlines: a demo compresses time but not traffic, so a step of a few seconds often needs many times
 * its minimum to gather the guardrails' minimum samples, and a deadline scaled with it would roll back
 * an identical candidate for want of evidence. Its steps hold until the analysis decides, as before.
 */
export function compressedPlan(secondsPerStep: number): RolloutPlan {
  const plan = {
    steps: withoutDeadlines(DEFAULT_PLAN).steps.map((step): PlanStep =>
      step.type === 'pause' ? step : { ...step, minDurationSeconds: secondsPerStep },
    ),
  };
  assertValidPlan(plan);
  return plan;
}

/** A plan with its progress deadlines taken out: every step holds until its analysis decides. */
export function withoutDeadlines(plan: RolloutPlan): RolloutPlan {
  return {
    ...plan,
    steps: plan.steps.map((step): PlanStep => {
      const { maxDurationSeconds: _max, onDeadline: _policy, deadlineGraceSeconds: _grace, ...rest } = step;
      return rest;
    }),
  };
}

/**
 * Checks the rules a rollout relies on. Values are checked at runtime (NaN, fractions, unknown step types)
 * because plans arrive as JSON from operators.
 */
export function validatePlan(plan: RolloutPlan): PlanIssue[] {
  const steps: readonly PlanStep[] = Array.isArray(plan.steps) ? plan.steps : [];
  if (steps.length === 0) return [{ path: 'steps', message: 'a plan needs at least one step' }];

  const issues: PlanIssue[] = [];
  const issue = (path: string, message: string): void => {
    issues.push({ path, message });
  };
  let shadowIndex: number | null = null;
  let firstSetWeightIndex: number | null = null;
  let previousWeight: { readonly weight: number; readonly index: number } | null = null;
  let reaches100 = false;

  const wholeSeconds = (path: string, value: unknown, min = 0): void => {
    if (
      !Number.isInteger(value) ||
      (value as number) < min ||
      (value as number) > MAX_STEP_DURATION_SECONDS
    ) {
      issue(path, `must be a whole number of seconds from ${min} to ${MAX_STEP_DURATION_SECONDS} (90 days)`);
    }
  };

  steps.forEach((step, index) => {
    const at = `steps[${index}]`;
    if (step.type === 'pause') {
      if (step.durationSeconds !== undefined) wholeSeconds(`${at}.durationSeconds`, step.durationSeconds);
    } else {
      wholeSeconds(`${at}.minDurationSeconds`, step.minDurationSeconds);
    }
    const max = step.maxDurationSeconds;
    if (max !== undefined) {
      wholeSeconds(`${at}.maxDurationSeconds`, max, 1);
      const minimum = step.type === 'pause' ? step.durationSeconds : step.minDurationSeconds;
      if (Number.isInteger(max) && typeof minimum === 'number' && max < minimum) {
        issue(`${at}.maxDurationSeconds`, `must not be shorter than the step's own duration (${minimum} s)`);
      }
    }
    if (step.onDeadline !== undefined) {
      if (!DEADLINE_POLICIES.includes(step.onDeadline)) {
        issue(`${at}.onDeadline`, `must be one of ${DEADLINE_POLICIES.join(', ')}`);
      } else if (max === undefined) {
        issue(`${at}.onDeadline`, 'needs maxDurationSeconds: the deadline it acts on');
      }
    }
    if (step.deadlineGraceSeconds !== undefined) {
      wholeSeconds(`${at}.deadlineGraceSeconds`, step.deadlineGraceSeconds);
      if (step.onDeadline !== 'rollback')
        issue(
          `${at}.deadlineGraceSeconds`,
          'needs onDeadline "rollback" (and maxDurationSeconds): it is how long past the deadline an on-track step may hold before it rolls back',
        );
    }

    switch (step.type) {
      case 'shadow': {
        if (shadowIndex !== null) issue(at, `only one shadow step is allowed (steps[${shadowIndex}] is one)`);
        shadowIndex ??= index;
        if (firstSetWeightIndex !== null) {
          issue(at, `shadow must come before any setWeight step (steps[${firstSetWeightIndex}] is one)`);
        }
        const rate = step.sampleRate;
        if (!(typeof rate === 'number' && rate > 0 && rate <= 1)) {
          issue(`${at}.sampleRate`, 'must be greater than 0 and at most 1');
        }
        break;
      }
      case 'setWeight': {
        firstSetWeightIndex ??= index;
        if (step.cohort !== undefined) {
          for (const c of validateCohort(step.cohort))
            issue(`${at}.cohort${c.path ? `.${c.path}` : ''}`, c.message);
        }
        const weight = step.weight;
        const lowest = step.cohort === undefined ? 1 : 0;
        if (!Number.isInteger(weight) || weight < lowest || weight > 100) {
          issue(
            `${at}.weight`,
            `must be a whole percentage from ${lowest} to 100${lowest === 1 ? ' (0 only with a cohort)' : ''}`,
          );
          break;
        }
        if (previousWeight !== null && weight <= previousWeight.weight) {
          issue(
            `${at}.weight`,
            `must be greater than ${previousWeight.weight} (steps[${previousWeight.index}].weight): weights only go up`,
          );
        }
        // Cohort outcomes are not evidence (they would bias the population comparison), so a
        // cohort-only step is never judged: its deadline is the one thing that ends a broken candidate.
        if (weight === 0) {
          if (step.maxDurationSeconds === undefined)
            issue(
              `${at}.maxDurationSeconds`,
              'a cohort-only step (weight 0) gathers no guardrail evidence: give it a progress deadline (maxDurationSeconds, with onDeadline "rollback") so a broken candidate cannot serve its cohort for ever',
            );
          else if (step.onDeadline !== 'rollback')
            issue(
              `${at}.onDeadline`,
              'must be "rollback" on a cohort-only step (weight 0): nothing else rolls its candidate back',
            );
        }
        previousWeight = { weight, index };
        if (weight === 100) reaches100 = true;
        break;
      }
      case 'bake': {
        if (index !== steps.length - 1) issue(at, 'bake must be the last step');
        // Pauses may stand between: they keep the 100% split.
        const previous = steps.slice(0, index).findLast((s) => s.type !== 'pause');
        if (!(previous?.type === 'setWeight' && previous.weight === 100)) {
          issue(at, 'bake must follow a setWeight 100 step: it keeps the baseline warm after 100%');
        }
        break;
      }
      case 'pause':
        break;
      default: {
        const unknownStep: never = step;
        issue(`${at}.type`, `unknown step type ${JSON.stringify((unknownStep as { type?: unknown }).type)}`);
      }
    }
  });

  if (!reaches100) issue('steps', 'the plan never reaches 100%: add a setWeight 100 step');
  if (plan.watch !== undefined) {
    const watch = { ...DEFAULT_WATCH, ...plan.watch };
    wholeSeconds('watch.durationSeconds', watch.durationSeconds);
    wholeSeconds('watch.referenceSeconds', watch.referenceSeconds, 1);
    if (watch.durationSeconds > 0 && watch.referenceSeconds >= watch.durationSeconds) {
      issue(
        'watch.referenceSeconds',
        'must be shorter than watch.durationSeconds: later windows are compared with it',
      );
    }
  }
  const holdback = plan.holdbackPercent;
  if (
    holdback !== undefined &&
    !(Number.isInteger(holdback) && holdback >= 0 && holdback <= MAX_HOLDBACK_PERCENT)
  ) {
    issue('holdbackPercent', `must be a whole percentage from 0 to ${MAX_HOLDBACK_PERCENT}`);
  }
  return issues;
}

/** Throws `INVALID_PLAN` listing every issue, so an operator can fix a plan in one go. */
export function assertValidPlan(plan: RolloutPlan): void {
  const issues = validatePlan(plan);
  if (issues.length === 0) return;
  const list = issues.map((i) => `${i.path} ${i.message}`).join('; ');
  throw new DomainError('INVALID_PLAN', `invalid rollout plan: ${list}`, { issues });
}

// DEFAULT_PLAN is shared by every caller; freezing it turns an accidental edit into an immediate error.
function freezePlan(steps: PlanStep[]): RolloutPlan {
  return Object.freeze({ steps: Object.freeze(steps.map((step) => Object.freeze(step))) });
}

/**
 * A default step's minimum, its deadline (twice the minimum, then roll back) and the deadline's grace
 * (four times the minimum more, only while the analysis is on track to decide within it).
 */
function lasting(minDurationSeconds: number) {
  return {
    minDurationSeconds,
    maxDurationSeconds: 2 * minDurationSeconds,
    onDeadline: 'rollback',
    deadlineGraceSeconds: 4 * minDurationSeconds,
  } as const;
}

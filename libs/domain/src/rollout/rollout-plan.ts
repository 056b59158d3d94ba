import { DomainError } from '../errors/domain-error';
import type { PlanStep, RolloutPlan } from './rollout.types';

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
 */
export const DEFAULT_PLAN: RolloutPlan = freezePlan([
  { type: 'shadow', sampleRate: 1, minDurationSeconds: 3 * DAY_SECONDS },
  { type: 'setWeight', weight: 5, minDurationSeconds: 48 * HOUR_SECONDS },
  { type: 'setWeight', weight: 20, minDurationSeconds: 48 * HOUR_SECONDS },
  { type: 'setWeight', weight: 50, minDurationSeconds: 48 * HOUR_SECONDS },
  { type: 'setWeight', weight: 100, minDurationSeconds: 48 * HOUR_SECONDS },
  { type: 'bake', minDurationSeconds: 48 * HOUR_SECONDS },
]);

/** DEFAULT_PLAN's shape with every step shortened to `secondsPerStep`, for demos and tests. */
export function compressedPlan(secondsPerStep: number): RolloutPlan {
  const plan = { steps: DEFAULT_PLAN.steps.map((step) => ({ ...step, minDurationSeconds: secondsPerStep })) };
  assertValidPlan(plan);
  return plan;
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

  steps.forEach((step, index) => {
    const at = `steps[${index}]`;
    const duration = step.minDurationSeconds;
    if (!Number.isInteger(duration) || duration < 0 || duration > MAX_STEP_DURATION_SECONDS) {
      issue(
        `${at}.minDurationSeconds`,
        `must be a whole number of seconds from 0 to ${MAX_STEP_DURATION_SECONDS} (90 days)`,
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
        const weight = step.weight;
        if (!Number.isInteger(weight) || weight < 1 || weight > 100) {
          issue(`${at}.weight`, 'must be a whole percentage from 1 to 100');
          break;
        }
        if (previousWeight !== null && weight <= previousWeight.weight) {
          issue(
            `${at}.weight`,
            `must be greater than ${previousWeight.weight} (steps[${previousWeight.index}].weight): weights only go up`,
          );
        }
        previousWeight = { weight, index };
        if (weight === 100) reaches100 = true;
        break;
      }
      case 'bake': {
        if (index !== steps.length - 1) issue(at, 'bake must be the last step');
        const previous = steps[index - 1];
        if (!(previous?.type === 'setWeight' && previous.weight === 100)) {
          issue(at, 'bake must directly follow a setWeight 100 step: it keeps the baseline warm after 100%');
        }
        break;
      }
      default: {
        const unknownStep: never = step;
        issue(`${at}.type`, `unknown step type ${JSON.stringify((unknownStep as { type?: unknown }).type)}`);
      }
    }
  });

  if (!reaches100) issue('steps', 'the plan never reaches 100%: add a setWeight 100 step');
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

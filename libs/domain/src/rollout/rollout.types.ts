import type { Cohort } from './cohort';

/**
 * Rollout vocabulary, borrowed from Argo Rollouts where it fits (steps, phases, analysis results),
 * so operators who know Argo feel at home.
 */

/** What happens when a step outlives its progress deadline (`maxDurationSeconds`). */
export const DEADLINE_POLICIES = ['hold', 'rollback'] as const;
export type DeadlinePolicy = (typeof DEADLINE_POLICIES)[number];

/**
 * A progress deadline (Argo Rollouts' progressDeadlineSeconds, per step): a step still there this long
 * after it began (paused time does not count) either rolls back or holds and says so, once.
 */
export interface StepDeadline {
  readonly maxDurationSeconds?: number;
  /** Default `hold`. */
  readonly onDeadline?: DeadlinePolicy;
  /**
   * Under `rollback`: how much longer past the deadline the step may hold while its analysis is on
   * track, i.e. every undecided guardrail is within its limit and projected (at the step's pace) to
   * show its bound before the grace ends. Off the track, or at the grace's end, it rolls back.
   * Default 0: the deadline rolls back whatever the evidence says.
   */
  readonly deadlineGraceSeconds?: number;
}

/** A step of a rollout plan. Durations are minimums: a step also needs its analysis to allow it. */
export type PlanStep =
  | ({
      readonly type: 'shadow';
      readonly sampleRate: number;
      readonly minDurationSeconds: number;
    } & StepDeadline)
  | ({
      readonly type: 'setWeight';
      /** Percentage of all users (bucketed at random) served by the candidate; 0 only with a cohort. */
      readonly weight: number;
      readonly minDurationSeconds: number;
      /**
       * Users who get the candidate whatever their bucket (internal users first, a named cohort).
       * Their requests are tagged and left out of the guardrails' comparison: not a random sample.
       */
      readonly cohort?: Cohort;
    } & StepDeadline)
  /** After 100%: the candidate serves everyone while the baseline is kept warm for instant rollback. */
  | ({ readonly type: 'bake'; readonly minDurationSeconds: number } & StepDeadline)
  /**
   * Keeps the split of the step before it. Without a duration it is an approval gate: it waits for
   * `promote` (with who and why in the log); with one it is a timed wait. The guardrails keep
   * watching either way: a Failed verdict rolls back.
   */
  | ({ readonly type: 'pause'; readonly durationSeconds?: number } & StepDeadline);

export interface RolloutPlan {
  readonly steps: readonly PlanStep[];
  /**
   * After 100%: how long the new stable version is compared with its own first period (see watch.ts);
   * missing fields take the defaults, `durationSeconds: 0` turns it off.
   */
  readonly watch?: { readonly durationSeconds?: number; readonly referenceSeconds?: number };
  /**
   * Percentage of users kept on the baseline during the 100% step and the bake, so the guardrails
   * still compare with a concurrent baseline there instead of with the past (default
   * DEFAULT_HOLDBACK_PERCENT; 0 turns it off). A completed rollout serves everyone the candidate.
   */
  readonly holdbackPercent?: number;
}

export const ROLLOUT_PHASES = ['Pending', 'Progressing', 'Paused', 'Healthy', 'RolledBack'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

/** Phases in which a rollout holds the model (one active rollout per model). */
export const ACTIVE_PHASES: readonly RolloutPhase[] = ['Pending', 'Progressing', 'Paused'];

/**
 * Who lets a step advance: `guardrails` (a Successful verdict after the step's minimum) or `manual`
 * (an operator's promote, recorded as an approval). The guardrails protect in both: Failed rolls back.
 */
export const ANALYSIS_MODES = ['guardrails', 'manual'] as const;
export type AnalysisMode = (typeof ANALYSIS_MODES)[number];

export const ANALYSIS_VERDICTS = ['Successful', 'Failed', 'Inconclusive', 'Error'] as const;
export type AnalysisVerdict = (typeof ANALYSIS_VERDICTS)[number];

export interface RolloutState {
  readonly phase: RolloutPhase;
  /** Index into plan.steps of the current step; -1 before start. */
  readonly stepIndex: number;
  /** When the current step began (shifted forward by time spent paused). Null before start. */
  readonly stepStartedAt: Date | null;
  /** Set while Paused. */
  readonly pausedAt: Date | null;
  readonly plan: RolloutPlan;
  /** Human-readable reason of the last terminal or pausing transition. */
  readonly message: string | null;
  readonly analysisMode: AnalysisMode;
  /** When the current step passed its progress deadline and held (policy `hold`); null otherwise. */
  readonly deadlineExceededAt: Date | null;
}

export interface Actor {
  /** Who: a token name, or `aviary-analyzer` / `aviary-scheduler` for automatic decisions. */
  readonly name: string;
  readonly automatic: boolean;
}

export type RolloutEvent =
  | { readonly type: 'start'; readonly actor: Actor }
  | { readonly type: 'promote'; readonly actor: Actor; readonly full?: boolean; readonly reason?: string }
  | { readonly type: 'pause'; readonly actor: Actor; readonly reason?: string }
  | { readonly type: 'resume'; readonly actor: Actor }
  | { readonly type: 'rollback'; readonly actor: Actor; readonly reason: string }
  | { readonly type: 'retry'; readonly actor: Actor; readonly reason: string }
  /** Periodic reconciliation: advances when the step's minimum duration has passed and the verdict allows it. */
  | {
      readonly type: 'tick';
      readonly verdict: AnalysisVerdict;
      readonly detail?: string;
      /**
       * With an Inconclusive verdict: how long, at the step's pace, until every undecided guardrail
       * would decide, when each is within its limit on the point estimate (projectedSecondsToDecide).
       * Absent when the analysis cannot say; a deadline's grace acts only on it.
       */
      readonly secondsToDecide?: number;
    };

export type RolloutEventType = RolloutEvent['type'];

/** Why a transition happened, for the decision log and the transitions-by-cause metric. */
export type TransitionCause =
  | 'start'
  | 'promote'
  | 'promote-full'
  | 'pause'
  | 'resume'
  | 'rollback'
  | 'retry'
  | 'step-advanced'
  | 'completed'
  | 'analysis-failed'
  /** A promote at an approval gate, or in manual mode: the step's permission to advance. */
  | 'approved'
  /** The step passed its progress deadline and holds (recorded once). */
  | 'deadline-hold'
  /** Past a rollback deadline, held within its grace because the analysis is on track (recorded once). */
  | 'deadline-extended'
  | 'deadline-rollback';

/** Side effects the caller carries out after persisting the new state. */
export type RolloutEffect =
  /** The traffic split changed: publish it to the flag source. */
  | { readonly type: 'publishSplit' }
  /** The candidate was rolled back: mark the version so it is never silently promoted again. */
  | { readonly type: 'markCandidateRolledBack' }
  /** The rollout finished: the candidate becomes the model's stable (baseline) version. */
  | { readonly type: 'promoteCandidateToStable' };

export interface TransitionResult {
  readonly state: RolloutState;
  readonly effects: readonly RolloutEffect[];
  /** Null when the event changed nothing (e.g. a tick that holds). */
  readonly cause: TransitionCause | null;
  /** Plain-words explanation for the decision log. */
  readonly summary: string;
}

/** Who serves what, derived from a rollout's state. Weights are percentages of users (0-100). */
export interface TrafficSplit {
  /** Percentage of users served by the candidate; the rest get the baseline. */
  readonly candidateWeight: number;
  /** Share (0-1) of baseline-served requests mirrored to the candidate, or null when not shadowing. */
  readonly shadowSampleRate: number | null;
  /** Whether the baseline must be kept warm (anything short of a finished rollout). */
  readonly baselineWarm: boolean;
  /** Users served by the candidate whatever the weight, or null. */
  readonly cohort: Cohort | null;
}

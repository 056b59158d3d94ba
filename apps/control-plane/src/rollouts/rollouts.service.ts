import { Inject, Injectable, Logger } from '@nestjs/common';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { randomUUID } from 'node:crypto';
import {
  ACTIVE_PHASES,
  type Actor,
  DEFAULT_JUDGE_GATE,
  DEFAULT_PLAN,
  parseGoldenSet,
  deriveSplit,
  DomainError,
  initialState,
  resolveGuardrails,
  retryBaseline,
  type RolloutEvent,
  type RolloutState,
  transition,
  type TransitionCause,
  validatePlan,
  versionChanges,
  watchOf,
  type VersionChanges,
  type VersionEvent,
} from '@aviary/domain';
import { isUniqueViolation, type Prisma } from '@aviary/persistence';
import { TIME_ONLY_NOTICE } from '../analysis/time-only.analysis';
import { FlagPublicationRepository } from '../flags/flag-publication.repository';
import { FlagReconciler, type PublicationState } from '../flags/flag-reconciler.service';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { ModelRepository } from '../models/model.repository';
import { rowToState } from './rollout.mapper';
import { type RolloutRecord, RolloutRepository } from './rollout.repository';
import { RolloutEventRepository } from './rollout-event.repository';
import { type CreateRolloutInput, type ListRolloutsQuery } from './rollout.schemas';

const EVENT_TYPE: Record<TransitionCause, string> = {
  start: 'Started',
  promote: 'Promoted',
  'promote-full': 'PromotedFull',
  pause: 'Paused',
  resume: 'Resumed',
  rollback: 'RolledBack',
  retry: 'Retried',
  'step-advanced': 'StepAdvanced',
  completed: 'Completed',
  'analysis-failed': 'AutoRolledBack',
  approved: 'Approved',
  'deadline-hold': 'ProgressDeadlineExceeded',
  'deadline-extended': 'ProgressDeadlineExtended',
  'deadline-rollback': 'DeadlineRolledBack',
};

export interface ActOptions {
  /** From If-Match: act only if the rollout is still at this version. */
  readonly expectedVersion?: number;
  /** Structured evidence for the decision log (analysis results). */
  readonly evidence?: Record<string, unknown>;
  /**
   * How long to wait for a changed split to reach the flag source before answering (default
   * AVIARY_FLAG_PUBLISH_WAIT_MS; 0: do not wait). Publishing goes on in the background either way.
   */
  readonly waitForPublishMs?: number;
}

/** A rollout after an action, with whether the split it changed has reached the flag source yet. */
export type ActedRollout = RolloutRecord & { readonly publication: PublicationState | null };

@Injectable()
export class RolloutsService {
  private readonly logger = new Logger(RolloutsService.name);

  constructor(
    private readonly rollouts: RolloutRepository,
    private readonly models: ModelRepository,
    private readonly events: RolloutEventRepository,
    private readonly publications: FlagPublicationRepository,
    private readonly reconciler: FlagReconciler,
    private readonly metrics: ControlPlaneMetrics,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async create(input: CreateRolloutInput, actor: Actor): Promise<RolloutRecord> {
    const plan = input.plan ?? DEFAULT_PLAN;
    const issues = validatePlan(plan);
    if (issues.length > 0) {
      throw new DomainError(
        'INVALID_PLAN',
        `plan is invalid: ${issues.map((i) => `plan.${i.path}: ${i.message}`).join('; ')}`,
        {
          issues: issues.map((i) => ({ field: `plan.${i.path}`, message: i.message })),
        },
      );
    }
    const golden = input.goldenSet === undefined ? null : parseGoldenSet(input.goldenSet);
    if (golden && golden.issues.length > 0) {
      throw new DomainError(
        'INVALID_GOLDEN_SET',
        `goldenSet is invalid: ${golden.issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`,
        { issues: golden.issues },
      );
    }
    const guardrails = resolveGuardrails(input.guardrails);
    const shadowGate = { ...DEFAULT_JUDGE_GATE, ...input.shadowGate };
    const rollout = await this.models.transaction(async (tx) => {
      const model = await this.models.findByRef(input.model, tx);
      if (!model)
        throw new DomainError('NOT_FOUND', `model ${JSON.stringify(input.model)} does not exist`, {
          field: 'model',
        });
      if (!model.stableVersionId)
        throw new DomainError('CONFLICT', `model ${model.name} has no stable version to compare against`, {
          field: 'model',
        });
      const candidate = await this.models.findVersion(model.id, input.candidateVersion, tx);
      if (!candidate) {
        throw new DomainError(
          'NOT_FOUND',
          `version ${JSON.stringify(input.candidateVersion)} of model ${model.name} does not exist`,
          { field: 'candidateVersion' },
        );
      }
      if (candidate.id === model.stableVersionId) {
        throw new DomainError(
          'CONFLICT',
          `version ${candidate.label} is already the stable version of ${model.name}`,
          { field: 'candidateVersion' },
        );
      }
      if (candidate.status === 'rolled_back' && !(input.allowRolledBackCandidate && input.reason)) {
        throw new DomainError(
          'VERSION_ROLLED_BACK',
          `version ${candidate.label} was rolled back before; set allowRolledBackCandidate: true and give a reason to try it again`,
          { field: 'candidateVersion' },
        );
      }
      const analysisMode = input.analysis ?? (this.config.analysis === 'manual' ? 'manual' : 'guardrails');
      const state = initialState(plan, { analysisMode });
      const id = randomUUID();
      let created: RolloutRecord;
      try {
        created = await this.rollouts.create(tx, {
          id,
          modelId: model.id,
          baselineVersionId: model.stableVersionId,
          candidateVersionId: candidate.id,
          phase: state.phase,
          stepIndex: state.stepIndex,
          analysisMode,
          plan: plan as unknown as Prisma.InputJsonValue,
          guardrails: guardrails as unknown as Prisma.InputJsonValue,
          shadowGate,
          ...(golden ? { goldenSet: golden.items as unknown as Prisma.InputJsonValue } : {}),
          active: true,
          createdBy: actor.name,
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new DomainError(
            'ROLLOUT_ALREADY_ACTIVE',
            `model ${model.name} already has an active rollout; finish or roll it back first`,
            { field: 'model' },
          );
        }
        throw err;
      }
      await this.events.append(
        {
          rolloutId: id,
          type: 'Created',
          toPhase: state.phase,
          actor: actor.name,
          automatic: actor.automatic,
          reason: input.reason ?? null,
          message: `Rollout of ${model.name} created: ${candidate.label} against baseline, ${plan.steps.length} steps`,
          evidence: {
            plan,
            analysisMode,
            guardrails,
            shadowGate,
            ...(golden ? { goldenSetItems: golden.items.length } : {}),
            ...(candidate.status === 'rolled_back' ? { retriedRolledBackVersion: true } : {}),
          },
        },
        tx,
      );
      return created;
    });
    return rollout;
  }

  async get(id: string): Promise<RolloutRecord> {
    const found = await this.rollouts.findById(id);
    if (!found) throw new DomainError('NOT_FOUND', `rollout ${JSON.stringify(id)} does not exist`);
    return found;
  }

  async list(q: ListRolloutsQuery): Promise<RolloutRecord[]> {
    let modelId: string | undefined;
    if (q.model) {
      const model = await this.models.findByRef(q.model);
      if (!model) return [];
      modelId = model.id;
    }
    return this.rollouts.list(q, modelId);
  }

  /** The rollout a model-level command (e.g. `rollback <model>`) acts on. */
  async activeOfModel(modelRef: string): Promise<RolloutRecord> {
    const model = await this.models.findByRef(modelRef);
    if (!model) throw new DomainError('NOT_FOUND', `model ${JSON.stringify(modelRef)} does not exist`);
    const active = await this.rollouts.findActiveByModel(model.id);
    if (!active) throw new DomainError('CONFLICT', `model ${model.name} has no active rollout`);
    return active;
  }

  /**
   * Loads, runs the pure state machine, persists state + effects + audit event in one transaction
   * (optimistic concurrency on `version`), then publishes the split after commit.
   */
  async act(id: string, event: RolloutEvent, opts: ActOptions = {}): Promise<ActedRollout> {
    const now = new Date();
    const outcome = await this.models.transaction(async (tx) => {
      const row = await this.rollouts.findById(id, tx);
      if (!row) throw new DomainError('NOT_FOUND', `rollout ${JSON.stringify(id)} does not exist`);
      if (opts.expectedVersion !== undefined && row.version !== opts.expectedVersion) {
        throw concurrent(row, opts.expectedVersion);
      }
      const before = rowToState(row);
      const result = transition(before, event, now);
      if (result.cause === null) return { row, cause: null, publish: false };
      const s = result.state;
      const stable = await this.rollouts.stableVersionOf(tx, row.modelId);
      if (!stable) throw new Error(`corrupt model ${row.modelId}: no stable version`);
      // A retry compares with the model's stable version now (the one users get if it rolls back
      // again), not with the baseline recorded when the rollout was created.
      const retried =
        result.cause === 'retry'
          ? retryBaseline({
              stableVersionId: stable.id,
              baselineVersionId: row.baselineVersionId,
              candidateVersionId: row.candidateVersionId,
              candidateLabel: row.candidateVersion.label,
            })
          : null;
      let ok: boolean;
      try {
        ok = await this.rollouts.updateIfVersion(tx, id, row.version, {
          ...stateColumns(s),
          active: ACTIVE_PHASES.includes(s.phase),
          ...(retried?.rebaselined ? { baselineVersionId: retried.baselineVersionId } : {}),
          ...watchFrom(before, s, now),
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new DomainError(
            'ROLLOUT_ALREADY_ACTIVE',
            `model ${row.model.name} has another active rollout; finish or roll it back before retrying this one`,
            { field: 'model' },
          );
        }
        throw err;
      }
      if (!ok) throw concurrent(row);
      const facts = {
        stableVersionId: stable.id,
        baselineVersionId: retried?.baselineVersionId ?? row.baselineVersionId,
        candidateVersionId: row.candidateVersionId,
      };
      let publish = false;
      const versionEvents: VersionEvent[] = [];
      for (const effect of result.effects) {
        if (effect.type === 'markCandidateRolledBack') versionEvents.push('candidateRolledBack');
        else if (effect.type === 'promoteCandidateToStable') versionEvents.push('candidatePromoted');
        else if (effect.type === 'publishSplit') publish = true;
      }
      if (newAttemptStarted(result.cause)) versionEvents.push('candidateServing');
      for (const versionEvent of versionEvents)
        await this.applyVersionChanges(tx, row.modelId, versionChanges(versionEvent, facts));
      if (publish) {
        const routing = await this.publications.stage(tx, row.modelId);
        // Evidence routed under earlier revisions belongs to earlier steps (see GuardrailAnalysis). A
        // rollback or completion publishes too but ends the step rather than starting one: the step
        // keeps its window, so its comparison still shows what the decision was made on.
        const newAttempt = newAttemptStarted(result.cause);
        const newStep = s.stepIndex !== before.stepIndex || newAttempt;
        if (routing && newStep) await this.rollouts.setStepRevision(tx, id, routing.revision, newAttempt);
      }
      const actor = 'actor' in event ? event.actor : { name: 'aviary-scheduler', automatic: true };
      const splitBefore = deriveSplit(before);
      const splitAfter = deriveSplit(s);
      await this.events.append(
        {
          rolloutId: id,
          type: EVENT_TYPE[result.cause],
          fromPhase: before.phase,
          toPhase: s.phase,
          stepIndex: s.stepIndex,
          actor: actor.name,
          automatic: actor.automatic,
          reason: 'reason' in event ? (event.reason ?? null) : null,
          message: retried?.rebaselined
            ? `${result.summary}; the baseline is now ${stable.label}, the model's current stable version (was ${row.baselineVersion.label})`
            : result.summary,
          evidence: {
            ...(retried
              ? {
                  baseline: { id: stable.id, label: stable.label },
                  ...(retried.rebaselined
                    ? { previousBaseline: { id: row.baselineVersionId, label: row.baselineVersion.label } }
                    : {}),
                }
              : {}),
            fromStep: before.stepIndex,
            toStep: s.stepIndex,
            candidateWeightBefore: splitBefore.candidateWeight,
            candidateWeightAfter: splitAfter.candidateWeight,
            ...(result.cause === 'promote' || result.cause === 'promote-full' ? { override: true } : {}),
            ...(result.cause === 'approved' ? { approval: true } : {}),
            ...(event.type === 'tick' ? { verdict: event.verdict, detail: event.detail ?? null } : {}),
            ...(opts.evidence ?? {}),
          },
        },
        tx,
      );
      if (newAttemptStarted(result.cause) && this.config.analysis === 'time-only')
        await this.events.append(
          {
            rolloutId: id,
            type: 'GuardrailsNotEvaluated',
            toPhase: s.phase,
            stepIndex: s.stepIndex,
            actor: 'aviary',
            automatic: true,
            reason: null,
            message: `Guardrails are not evaluated for this rollout: ${TIME_ONLY_NOTICE}. Its analysis mode (${row.analysisMode}) does not change that; an operator must watch it and roll back by hand.`,
            evidence: { analysis: 'time-only', analysisMode: row.analysisMode },
          },
          tx,
        );
      const updated = await this.rollouts.findById(id, tx);
      return { row: updated ?? row, cause: result.cause, publish };
    });
    if (outcome.cause) this.metrics.transitions.inc({ model: outcome.row.model.name, cause: outcome.cause });
    // After commit: the reconciler pushes the split and retries until the flag source accepts it. The
    // answer waits a bounded time for it, never for the flag source itself: a kill switch must answer.
    const publication = outcome.publish
      ? await this.reconciler.publishNow(outcome.row.modelId, opts.waitForPublishMs).catch((err: unknown) => {
          this.logger.warn(
            `rollout ${id} changed; could not check its flag publication: ${err instanceof Error ? err.message : String(err)}`,
          );
          return null;
        })
      : null;
    return { ...outcome.row, publication };
  }

  /**
   * One-command revert after completion: the version the model's last completed rollout replaced
   * becomes stable again (it was kept as that rollout's baseline; the plan's bake kept it warm), the
   * reverted version is marked rolled back, and routers are sent the new split. Refused (409) while a
   * rollout of the model is active: roll that back instead.
   */
  async revert(modelRef: string, actor: Actor, reason: string, opts: ActOptions = {}): Promise<ActedRollout> {
    const done = await this.models.transaction(async (tx) => {
      const model = await this.models.findByRef(modelRef, tx);
      if (!model) throw new DomainError('NOT_FOUND', `model ${JSON.stringify(modelRef)} does not exist`);
      if (model.rollouts.length > 0) {
        throw new DomainError(
          'CONFLICT',
          `model ${model.name} has an active rollout; roll it back instead (POST /api/v1/models/${model.name}/rollback)`,
        );
      }
      const last = model.stableVersionId
        ? await this.rollouts.lastCompletedTo(tx, model.id, model.stableVersionId)
        : null;
      if (!last || !model.stableVersionId) {
        throw new DomainError(
          'CONFLICT',
          `no completed rollout made ${model.name}'s current stable version: there is no previous version to revert to`,
        );
      }
      // Never back onto a version that was itself rolled back (or reverted) since.
      if (last.baselineVersion.status === 'rolled_back') {
        throw new DomainError(
          'CONFLICT',
          `the version ${last.candidateVersion.label} replaced, ${last.baselineVersion.label}, was rolled back since; start a rollout instead`,
        );
      }
      await this.applyVersionChanges(
        tx,
        model.id,
        versionChanges('reverted', {
          stableVersionId: model.stableVersionId,
          baselineVersionId: last.baselineVersionId,
          candidateVersionId: last.candidateVersionId,
        }),
      );
      await this.rollouts.setWatchStatus(tx, last.id, 'reverted');
      await this.events.append(
        {
          rolloutId: last.id,
          type: 'Reverted',
          fromPhase: last.phase,
          toPhase: last.phase,
          stepIndex: last.stepIndex,
          actor: actor.name,
          automatic: actor.automatic,
          reason,
          message: `Reverted ${model.name}: ${last.baselineVersion.label} is the stable version again; ${last.candidateVersion.label} is marked rolled back`,
          evidence: {
            from: { id: last.candidateVersionId, label: last.candidateVersion.label },
            to: { id: last.baselineVersionId, label: last.baselineVersion.label },
            watchStatus: last.watchStatus,
          },
        },
        tx,
      );
      await this.publications.stage(tx, model.id);
      return last;
    });
    this.metrics.transitions.inc({ model: done.model.name, cause: 'revert' });
    const publication = await this.reconciler
      .publishNow(done.modelId, opts.waitForPublishMs)
      .catch(() => null);
    const row = (await this.rollouts.findById(done.id)) ?? done;
    return { ...row, publication };
  }

  private async applyVersionChanges(tx: Prisma.TransactionClient, modelId: string, changes: VersionChanges) {
    for (const change of changes.statuses)
      await this.rollouts.setVersionStatus(tx, change.versionId, change.status);
    if (changes.stableVersionId !== null) await this.models.setStable(tx, modelId, changes.stableVersionId);
  }

  async listEvents(id: string, opts: { after?: bigint; limit: number }) {
    await this.get(id);
    return this.events.list(id, {
      limit: opts.limit,
      ...(opts.after !== undefined ? { afterId: opts.after } : {}),
    });
  }
}

/** On completion: the watch of the new stable version begins (unless the plan turns it off). */
function watchFrom(before: RolloutState, after: RolloutState, now: Date) {
  if (after.phase !== 'Healthy' || before.phase === 'Healthy') return {};
  const watch = watchOf(after.plan);
  if (watch.durationSeconds === 0) return {};
  return {
    watchStartedAt: now,
    watchUntil: new Date(now.getTime() + watch.durationSeconds * 1000),
    watchStatus: 'watching' as const,
  };
}

/** The rollouts columns that hold the domain state. */
function stateColumns(s: RolloutState) {
  return {
    phase: s.phase,
    stepIndex: s.stepIndex,
    stepStartedAt: s.stepStartedAt,
    pausedAt: s.pausedAt,
    message: s.message,
    analysisMode: s.analysisMode,
    deadlineExceededAt: s.deadlineExceededAt,
  };
}

function concurrent(row: RolloutRecord, expected?: number): DomainError {
  return new DomainError(
    'CONCURRENT_MODIFICATION',
    expected !== undefined
      ? `rollout ${row.id} is at version ${row.version}, not ${expected}; reload it and decide again`
      : `rollout ${row.id} was changed by someone else meanwhile; reload it and decide again`,
    { currentVersion: row.version },
  );
}

/** A start or a retry: the candidate serves again from the first step. */
function newAttemptStarted(cause: TransitionCause): boolean {
  return cause === 'start' || cause === 'retry';
}

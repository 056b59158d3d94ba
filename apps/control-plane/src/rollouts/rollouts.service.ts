import { Injectable } from '@nestjs/common';
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
  type RolloutEvent,
  transition,
  type TransitionCause,
  validatePlan,
} from '@aviary/domain';
import { isUniqueViolation, type Prisma } from '@aviary/persistence';
import { FlagPublicationRepository } from '../flags/flag-publication.repository';
import { FlagReconciler } from '../flags/flag-reconciler.service';
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
};

export interface ActOptions {
  /** From If-Match: act only if the rollout is still at this version. */
  readonly expectedVersion?: number;
  /** Structured evidence for the decision log (analysis results). */
  readonly evidence?: Record<string, unknown>;
}

@Injectable()
export class RolloutsService {
  constructor(
    private readonly rollouts: RolloutRepository,
    private readonly models: ModelRepository,
    private readonly events: RolloutEventRepository,
    private readonly publications: FlagPublicationRepository,
    private readonly reconciler: FlagReconciler,
    private readonly metrics: ControlPlaneMetrics,
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
      const state = initialState(plan);
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
  async act(id: string, event: RolloutEvent, opts: ActOptions = {}): Promise<RolloutRecord> {
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
      const ok = await this.rollouts.updateIfVersion(tx, id, row.version, {
        phase: s.phase,
        stepIndex: s.stepIndex,
        stepStartedAt: s.stepStartedAt,
        pausedAt: s.pausedAt,
        message: s.message,
        active: ACTIVE_PHASES.includes(s.phase),
      });
      if (!ok) throw concurrent(row);
      let publish = false;
      for (const effect of result.effects) {
        if (effect.type === 'markCandidateRolledBack') {
          await this.rollouts.setVersionStatus(tx, row.candidateVersionId, 'rolled_back');
        } else if (effect.type === 'promoteCandidateToStable') {
          await this.models.setStable(tx, row.modelId, row.candidateVersionId);
          await this.rollouts.setVersionStatus(tx, row.candidateVersionId, 'stable');
          await this.rollouts.setVersionStatus(tx, row.baselineVersionId, 'retired');
        } else if (effect.type === 'publishSplit') {
          publish = true;
        }
      }
      if (result.cause === 'start' || result.cause === 'retry') {
        await this.rollouts.setVersionStatus(tx, row.candidateVersionId, 'candidate');
      }
      if (publish) {
        const routing = await this.publications.stage(tx, row.modelId);
        // Evidence routed under earlier revisions belongs to earlier steps (see GuardrailAnalysis). A
        // rollback or completion publishes too but ends the step rather than starting one: the step
        // keeps its window, so its comparison still shows what the decision was made on.
        const newAttempt = result.cause === 'start' || result.cause === 'retry';
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
          message: result.summary,
          evidence: {
            fromStep: before.stepIndex,
            toStep: s.stepIndex,
            candidateWeightBefore: splitBefore.candidateWeight,
            candidateWeightAfter: splitAfter.candidateWeight,
            ...(event.type === 'promote' ? { override: true } : {}),
            ...(event.type === 'tick' ? { verdict: event.verdict, detail: event.detail ?? null } : {}),
            ...(opts.evidence ?? {}),
          },
        },
        tx,
      );
      const updated = await this.rollouts.findById(id, tx);
      return { row: updated ?? row, cause: result.cause, publish };
    });
    if (outcome.cause) this.metrics.transitions.inc({ model: outcome.row.model.name, cause: outcome.cause });
    // After commit: the reconciler pushes the split and retries until the flag source accepts it.
    if (outcome.publish) await this.reconciler.reconcile();
    return outcome.row;
  }

  async listEvents(id: string, opts: { after?: bigint; limit: number }) {
    await this.get(id);
    return this.events.list(id, {
      limit: opts.limit,
      ...(opts.after !== undefined ? { afterId: opts.after } : {}),
    });
  }
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

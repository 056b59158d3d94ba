import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  deadlineAt,
  DomainError,
  nextStepAt,
  type RolloutState,
  STEP_ANALYSIS,
  type StepAnalysis,
  transition,
} from '@aviary/domain';
import { Periodic } from '../common/periodic';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { rowToState } from './rollout.mapper';
import { RolloutRepository } from './rollout.repository';
import { RolloutsService } from './rollouts.service';

/**
 * Re-evaluates every rollout that serves the candidate (Progressing and Paused) on a timer: it asks
 * the analysis for a verdict and the state machine decides. A Paused rollout is still protected
 * (Failed rolls it back); only advancing waits. The tick is tried on the pure state machine first,
 * and only a change is written. Safe with several control-plane replicas: optimistic concurrency
 * makes the second writer a no-op.
 */
@Injectable()
export class RolloutScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RolloutScheduler.name);
  private readonly periodic = new Periodic(() => this.tick());
  private failing = false;

  constructor(
    private readonly rollouts: RolloutRepository,
    private readonly service: RolloutsService,
    @Inject(STEP_ANALYSIS) private readonly analysis: StepAnalysis,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
    private readonly metrics: ControlPlaneMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.periodic.start(this.config.tickIntervalMs);
  }

  onApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  async tick(now = new Date()): Promise<void> {
    let due;
    try {
      due = await this.rollouts.serving();
      if (this.failing) this.logger.log('rollouts can be evaluated again');
      this.failing = false;
    } catch (err) {
      // Once per outage, not once per tick.
      if (!this.failing)
        this.logger.warn(
          `could not load rollouts to evaluate (will keep trying): ${err instanceof Error ? err.message : String(err)}`,
        );
      this.failing = true;
      return;
    }
    this.metrics.forgetVerdictsExcept(new Set(due.map((r) => r.id)));
    for (const r of due) {
      const state = rowToState(r);
      // A non-continuous analysis (time-only) is asked only when time could move the rollout.
      if (!this.analysis.continuous && !timeIsUp(state, now)) continue;
      try {
        const result = await this.analysis.evaluate({
          rolloutId: r.id,
          modelId: r.modelId,
          stepIndex: r.stepIndex,
          stepStartedAt: r.stepStartedAt ?? now,
          baselineVersionId: r.baselineVersionId,
          candidateVersionId: r.candidateVersionId,
        });
        this.metrics.recordVerdict(r.model.name, r.id, result.verdict);
        const event = {
          type: 'tick',
          verdict: result.verdict,
          detail: result.detail,
          ...(result.secondsToDecide === undefined ? {} : { secondsToDecide: result.secondsToDecide }),
        } as const;
        // Most ticks change nothing: ask the pure machine before opening a transaction.
        if (transition(state, event, now).cause === null) continue;
        await this.service.act(r.id, event, {
          expectedVersion: r.version,
          // The scheduler does not wait on the flag source: other rollouts are due too.
          waitForPublishMs: 0,
          evidence: {
            analysis: this.analysis.name,
            ...(result.evidence ?? {}),
            ...(result.secondsToDecide === undefined ? {} : { secondsToDecide: result.secondsToDecide }),
          },
        });
      } catch (err) {
        if (err instanceof DomainError && err.code === 'CONCURRENT_MODIFICATION') continue;
        // The analysis could not run: the step holds, and the stuck-analysis alert needs to see it.
        this.metrics.recordVerdict(r.model.name, r.id, 'Error');
        this.logger.warn(
          `evaluating rollout ${r.id} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }
}

/** Whether the step's minimum or its progress deadline has passed. */
function timeIsUp(state: RolloutState, now: Date): boolean {
  return [nextStepAt(state), deadlineAt(state)].some((at) => at !== null && at.getTime() <= now.getTime());
}

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { DomainError, nextStepAt, STEP_ANALYSIS, type StepAnalysis } from '@aviary/domain';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { rowToState } from './rollout.mapper';
import { RolloutRepository } from './rollout.repository';
import { RolloutsService } from './rollouts.service';

/**
 * Re-evaluates progressing rollouts on a timer: a step whose minimum duration has passed asks the
 * analysis for a verdict and the state machine decides. Safe with several control-plane replicas:
 * optimistic concurrency makes the second writer a no-op.
 */
@Injectable()
export class RolloutScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RolloutScheduler.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly rollouts: RolloutRepository,
    private readonly service: RolloutsService,
    @Inject(STEP_ANALYSIS) private readonly analysis: StepAnalysis,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
    private readonly metrics: ControlPlaneMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = null));
    }, this.config.tickIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async tick(now = new Date()): Promise<void> {
    let due;
    try {
      due = await this.rollouts.progressing();
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
      const at = nextStepAt(rowToState(r));
      const stepOver = at !== null && at.getTime() <= now.getTime();
      if (!stepOver && !this.analysis.continuous) continue;
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
        // Before the step's minimum only a failure acts; anything else waits for the step to be over.
        if (!stepOver && result.verdict !== 'Failed') continue;
        await this.service.act(
          r.id,
          { type: 'tick', verdict: result.verdict, detail: result.detail },
          {
            expectedVersion: r.version,
            evidence: { analysis: this.analysis.name, ...(result.evidence ?? {}) },
          },
        );
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

import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { FLAG_PUBLISHER, type FlagPublisher } from '@aviary/domain';
import { type Prisma } from '@aviary/persistence';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { RolloutEventRepository } from '../rollouts/rollout-event.repository';
import { FlagPublicationRepository, type PublicationRow } from './flag-publication.repository';

export interface FlagStatus {
  readonly publisher: string;
  readonly healthy: boolean;
  readonly pending: number;
  readonly failing: ReadonlyArray<{
    model: string;
    failures: number;
    since: Date | null;
    lastError: string | null;
  }>;
}

/**
 * Pushes staged splits to the flag source after the state change has committed, and keeps retrying
 * the ones that failed. The database is the source of truth; the flag source converges to it.
 */
@Injectable()
export class FlagReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(FlagReconciler.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private rerun = false;
  private stopped = false;
  private failing = false;

  constructor(
    @Inject(FLAG_PUBLISHER) private readonly publisher: FlagPublisher,
    private readonly publications: FlagPublicationRepository,
    private readonly events: RolloutEventRepository,
    private readonly metrics: ControlPlaneMetrics,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), this.config.flagRetryIntervalMs);
    this.timer.unref();
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Publish whatever is pending now; calls while a run is in flight coalesce into one more run. */
  kick(): void {
    void this.reconcile();
  }

  /** Resolves when everything staged before the call has been attempted once. */
  reconcile(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        try {
          for (const row of await this.publications.pending()) await this.publishOne(row);
          if (this.failing) this.logger.log('flag reconciliation works again');
          this.failing = false;
        } catch (err) {
          // Once per outage (usually the database), not once per retry.
          if (!this.failing)
            this.logger.error(
              `flag reconciliation failed (will keep trying): ${err instanceof Error ? err.message : String(err)}`,
            );
          this.failing = true;
        }
      } while (this.rerun && !this.stopped);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async status(): Promise<FlagStatus> {
    const rows = await this.publications.all();
    const pending = rows.filter((r) => r.publishedRevision === null || r.publishedRevision < r.revision);
    const failing = pending.filter((r) => r.failures > 0);
    return {
      publisher: this.publisher.name,
      healthy: failing.length === 0,
      pending: pending.length,
      failing: failing.map((r) => ({
        model: r.routing.model,
        failures: r.failures,
        since: r.lastErrorAt,
        lastError: r.lastError,
      })),
    };
  }

  private async publishOne(staged: PublicationRow): Promise<void> {
    const timeoutMs = (this.config.unleash?.timeoutMs ?? 5000) + 5000;
    await this.publications.withModelLock(
      staged.modelId,
      async (tx) => {
        const row = await this.publications.find(staged.modelId, tx);
        if (!row || (row.publishedRevision !== null && row.publishedRevision >= row.revision)) return;
        const stopTimer = this.metrics.flagPublishSeconds.startTimer({ publisher: this.publisher.name });
        try {
          await this.publisher.publish(row.routing);
          stopTimer();
          await this.publications.markPublished(tx, row.modelId, row.revision, new Date());
          this.metrics.flagPublishes.inc({ publisher: this.publisher.name, outcome: 'success' });
          if (row.failures > 0) {
            await this.fileEvent(
              tx,
              row,
              'FlagPublishRecovered',
              `Traffic split for ${row.routing.model} reached ${this.publisher.name} after ${row.failures} failed attempt(s)`,
              {},
            );
          }
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          const failures = await this.publications.markFailed(tx, row.modelId, message, new Date());
          this.metrics.flagPublishes.inc({ publisher: this.publisher.name, outcome: 'failure' });
          this.logger.warn(
            `publishing split for ${row.routing.model} (revision ${row.revision}) to ${this.publisher.name} failed (attempt ${failures}), will retry: ${message}`,
          );
          // One event per failure streak: the log explains, the metric counts.
          if (failures === 1) {
            await this.fileEvent(
              tx,
              row,
              'FlagPublishFailed',
              `Could not publish the traffic split for ${row.routing.model} to ${this.publisher.name}; retrying every ${this.config.flagRetryIntervalMs} ms. Routers keep the last split they received.`,
              { error: message, revision: row.revision },
            );
          }
        }
      },
      timeoutMs,
    );
  }

  private async fileEvent(
    tx: Prisma.TransactionClient,
    row: PublicationRow,
    type: string,
    message: string,
    evidence: Record<string, unknown>,
  ): Promise<void> {
    const rolloutId = row.routing.rolloutId ?? (await this.events.latestRolloutOfModel(row.modelId, tx));
    if (!rolloutId) return;
    await this.events.append(
      {
        rolloutId,
        type,
        actor: 'aviary-flag-publisher',
        automatic: true,
        message,
        evidence: { ...evidence, publisher: this.publisher.name },
      },
      tx,
    );
  }
}

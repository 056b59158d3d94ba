import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { FLAG_PUBLISHER, type FlagPublisher } from '@aviary/domain';
import { type Prisma } from '@aviary/persistence';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { RolloutEventRepository } from '../rollouts/rollout-event.repository';
import { FlagPublicationRepository, isPending, type PublicationRow } from './flag-publication.repository';

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
  /** Flags found changed in the flag source outside Aviary, not yet found repaired. */
  readonly drift: ReadonlyArray<{ model: string; kind: string; detail: string | null; since: Date | null }>;
}

/** Whether a model's latest staged split has reached the flag source, as an API answer reports it. */
export interface PublicationState {
  readonly publisher: string;
  /** The routing revision the change staged. */
  readonly revision: number;
  /** The newest revision the flag source has accepted (null: none yet). */
  readonly publishedRevision: number | null;
  /** True once the flag source holds this revision (or a newer one); routers pick it up at their next poll. */
  readonly reachedFlagSource: boolean;
  /** Failed attempts in the current streak, and the last error: the publish keeps being retried. */
  readonly failures: number;
  readonly lastError: string | null;
}

interface Worker {
  /** The revision this attempt publishes (the newest staged when it claimed the lease). */
  revision: number;
  readonly abort: AbortController;
  done: Promise<void>;
}

/**
 * Pushes staged splits to the flag source after the state change has committed, and keeps retrying
 * the ones that failed. The database is the source of truth; the flag source converges to it.
 *
 * Each model publishes on its own (a hung publish of one model never delays another's rollback), and
 * a newer revision abandons an older one still in flight: its result would be stale anyway. Callers
 * wait a bounded time (`publishNow`) and report whether the flag source has the change yet; the
 * publish itself goes on in the background.
 */
@Injectable()
export class FlagReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(FlagReconciler.name);
  /** This process's name on publishing leases. */
  private readonly owner = `cp-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly workers = new Map<string, Worker>();
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<void> | null = null;
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
    for (const worker of this.workers.values()) worker.abort.abort();
    await this.scanning;
    await Promise.all([...this.workers.values()].map((w) => w.done));
  }

  /** Retries whatever is pending; a scan already under way is not started twice. */
  kick(): void {
    void this.reconcile();
  }

  /** Starts publishing every pending model; resolves when those attempts have finished. */
  reconcile(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.scanning ??= (async () => {
      try {
        const rows = await this.publications.pending();
        if (this.failing) this.logger.log('flag reconciliation works again');
        this.failing = false;
        await Promise.all(rows.map((row) => this.ensurePublishing(row)));
      } catch (err) {
        // Once per outage (usually the database), not once per retry.
        if (!this.failing)
          this.logger.error(
            `flag reconciliation failed (will keep trying): ${err instanceof Error ? err.message : String(err)}`,
          );
        this.failing = true;
      }
    })().finally(() => {
      this.scanning = null;
    });
    return this.scanning;
  }

  /**
   * Publishes the model's staged routing now and waits at most `waitMs` for the flag source to take
   * it. Never waits longer, whatever the flag source does: the answer says whether it got there, and
   * the attempt (and its retries) continue in the background.
   */
  async publishNow(
    modelId: string,
    waitMs = this.config.flagPublishWaitMs,
  ): Promise<PublicationState | null> {
    const row = await this.publications.find(modelId);
    if (!row) return null;
    if (isPending(row) && !this.stopped && waitMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.ensurePublishing(row),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
      ]);
      clearTimeout(timer);
    } else if (isPending(row)) {
      void this.ensurePublishing(row);
    }
    const now = (await this.publications.find(modelId)) ?? row;
    return {
      publisher: this.publisher.name,
      revision: row.revision,
      publishedRevision: now.publishedRevision,
      reachedFlagSource: now.publishedRevision !== null && now.publishedRevision >= row.revision,
      failures: now.failures,
      lastError: now.lastError,
    };
  }

  async status(): Promise<FlagStatus> {
    const rows = await this.publications.all();
    const pending = rows.filter(isPending);
    const failing = pending.filter((r) => r.failures > 0);
    const drifted = rows.filter((r) => r.drift !== null);
    return {
      publisher: this.publisher.name,
      healthy: failing.length === 0 && drifted.length === 0,
      pending: pending.length,
      failing: failing.map((r) => ({
        model: r.routing.model,
        failures: r.failures,
        since: r.lastErrorAt,
        lastError: r.lastError,
      })),
      drift: drifted.map((r) => ({
        model: r.routing.model,
        kind: r.drift ?? '',
        detail: r.driftDetail,
        since: r.driftAt,
      })),
    };
  }

  /** The attempt publishing `row` (or a newer revision), started if none is. */
  private ensurePublishing(row: PublicationRow): Promise<void> {
    const current = this.workers.get(row.modelId);
    if (current && current.revision >= row.revision) return current.done;
    // Superseded: whatever the old attempt would write is already out of date.
    current?.abort.abort();
    const worker: Worker = { revision: row.revision, abort: new AbortController(), done: Promise.resolve() };
    const done = this.publishOne(row.modelId, worker)
      .catch((err: unknown) => {
        this.logger.warn(
          `publishing ${row.routing.model} failed before reaching the flag source (will retry): ${err instanceof Error ? err.message : String(err)}`,
        );
      })
      .finally(() => {
        if (this.workers.get(row.modelId) === worker) this.workers.delete(row.modelId);
      });
    worker.done = done;
    this.workers.set(row.modelId, worker);
    return done;
  }

  /**
   * One publish attempt as a span: a child of the admin API request that staged it when the publish
   * runs in-request (publishNow), a trace of its own when a retry or a tick runs it.
   */
  private publishOne(modelId: string, worker: Worker): Promise<void> {
    return trace
      .getTracer('aviary-control-plane')
      .startActiveSpan(
        'aviary.flag_publish',
        { attributes: { 'aviary.flag.publisher': this.publisher.name } },
        (span) =>
          this.attemptPublish(modelId, worker, span).then(
            () => span.end(),
            (err: unknown) => {
              span.setStatus({
                code: SpanStatusCode.ERROR,
                message: err instanceof Error ? err.message : String(err),
              });
              span.end();
              throw err;
            },
          ),
      );
  }

  private async attemptPublish(modelId: string, worker: Worker, span: Span): Promise<void> {
    const { signal } = worker.abort;
    const timeoutMs = this.config.unleash?.timeoutMs ?? 5000;
    // A publish is a handful of calls; past this it is abandoned and retried, and the lease outlives it.
    const deadlineMs = 4 * timeoutMs;
    const row = await this.publications.claim(modelId, this.owner, deadlineMs + 5000);
    // Another replica holds the lease, or it is already published.
    if (!row || signal.aborted) {
      span.setAttribute('aviary.flag.outcome', 'skipped');
      return;
    }
    worker.revision = Math.max(worker.revision, row.revision);
    span.setAttributes({
      'aviary.model': row.routing.model,
      'aviary.rollout.revision': row.revision,
      'aviary.candidate_weight': row.routing.candidateWeight,
      ...(row.routing.rolloutId ? { 'aviary.rollout.id': row.routing.rolloutId } : {}),
    });
    const stopTimer = this.metrics.flagPublishSeconds.startTimer({ publisher: this.publisher.name });
    try {
      await this.publisher.publish(row.routing, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(deadlineMs)]),
      });
    } catch (err) {
      // Superseded by a newer revision, which now holds the lease under the same owner.
      if (signal.aborted) {
        span.setAttribute('aviary.flag.outcome', 'superseded');
        return;
      }
      const message = err instanceof Error ? err.message : String(err);
      span.setAttribute('aviary.flag.outcome', 'failure');
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      await this.recordFailure(row, message);
      return;
    }
    stopTimer();
    if (signal.aborted) return;
    span.setAttribute('aviary.flag.outcome', 'success');
    this.metrics.flagPublishes.inc({ publisher: this.publisher.name, outcome: 'success' });
    await this.publications.transaction(async (tx) => {
      await this.publications.markPublished(tx, row.modelId, row.revision, new Date(), this.owner);
      if (row.failures > 0) {
        await this.fileEvent(
          tx,
          row,
          'FlagPublishRecovered',
          `Traffic split for ${row.routing.model} reached ${this.publisher.name} after ${row.failures} failed attempt(s)`,
          {},
        );
      }
    });
  }

  private async recordFailure(row: PublicationRow, message: string): Promise<void> {
    this.metrics.flagPublishes.inc({ publisher: this.publisher.name, outcome: 'failure' });
    await this.publications.transaction(async (tx) => {
      const failures = await this.publications.markFailed(tx, row.modelId, message, new Date(), this.owner);
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
    });
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

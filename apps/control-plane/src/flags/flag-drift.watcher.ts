import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  describeDrift,
  driftAction,
  FLAG_PUBLISHER,
  flagNameForModel,
  type FlagObservation,
  type FlagPublisher,
  isFlagInspector,
} from '@aviary/domain';
import { Periodic } from '../common/periodic';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { RolloutEventRepository } from '../rollouts/rollout-event.repository';
import { RolloutRepository } from '../rollouts/rollout.repository';
import { RolloutsService } from '../rollouts/rollouts.service';
import { FlagPublicationRepository, isPending, type PublicationRow } from './flag-publication.repository';
import { FlagReconciler } from './flag-reconciler.service';

/**
 * Reads the flags back from the flag source (Unleash) every AVIARY_FLAG_DRIFT_CHECK_MS and acts on a
 * flag changed outside Aviary (see driftAction): the change is logged as an event, shown in /readyz
 * and on the status page, and the database's split is published again. An Unleash user's kill
 * switch — the flag switched off or archived, or the candidate's strategy disabled — rolls the active
 * rollout back, recorded as a rollback by that user.
 */
@Injectable()
export class FlagDriftWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(FlagDriftWatcher.name);
  private readonly periodic = new Periodic(() => this.check());

  constructor(
    @Inject(FLAG_PUBLISHER) private readonly publisher: FlagPublisher,
    private readonly publications: FlagPublicationRepository,
    private readonly reconciler: FlagReconciler,
    private readonly rollouts: RolloutRepository,
    private readonly service: RolloutsService,
    private readonly events: RolloutEventRepository,
    private readonly metrics: ControlPlaneMetrics,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  onApplicationBootstrap(): void {
    if (isFlagInspector(this.publisher) && this.config.flagDriftCheckMs > 0)
      this.periodic.start(this.config.flagDriftCheckMs);
  }

  onApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass over every published flag. */
  async check(now = new Date()): Promise<void> {
    const publisher = this.publisher;
    if (!isFlagInspector(publisher)) return;
    let rows: PublicationRow[];
    try {
      rows = await this.publications.all();
    } catch {
      return; // The database is down: the reconciler and readiness say so.
    }
    const timeoutMs = 2 * (this.config.unleash?.timeoutMs ?? 5000);
    for (const row of rows) {
      // A split on its way may legitimately differ from what the flag source holds.
      if (isPending(row)) continue;
      let seen: FlagObservation;
      try {
        seen = await publisher.inspect(row.routing, { signal: AbortSignal.timeout(timeoutMs) });
      } catch {
        continue; // Unreachable: publishing and readiness report that.
      }
      // A split staged while we looked (a rollout moved): what we compared with is out of date.
      const current = await this.publications.find(row.modelId).catch(() => null);
      if (!current || current.revision !== row.revision || isPending(current)) continue;
      try {
        await this.handle(row, seen, now);
      } catch (err) {
        this.logger.warn(
          `handling a changed flag for ${row.routing.model} failed (will look again): ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }

  private async handle(row: PublicationRow, seen: FlagObservation, now: Date): Promise<void> {
    const flag = flagNameForModel(row.routing.model);
    if (seen.drift === null) {
      if (await this.publications.clearDrift(row.modelId, now)) {
        await this.fileEvent(row, 'FlagDriftRepaired', `Flag ${flag} matches Aviary's split again`, {});
        this.logger.log(`flag ${flag} matches Aviary's split again`);
      }
      return;
    }
    const what = describeDrift(flag, this.publisher.name, seen.drift, seen.changedBy);
    const isNew = await this.publications.recordDrift(
      row.modelId,
      seen.drift,
      `${what}: ${seen.detail}`,
      now,
    );
    if (!isNew) {
      // Still different after our repair was published: publish it again (already logged).
      await this.republish(row);
      return;
    }
    this.metrics.flagDrifts.inc({ kind: seen.drift });
    const active = await this.rollouts.findActiveByModel(row.modelId);
    const serving = active !== null && (active.phase === 'Progressing' || active.phase === 'Paused');
    const action = driftAction(seen.drift, serving);
    this.logger.warn(
      `${what} (${seen.detail}); ${action === 'rollback-then-publish' ? 'rolling the rollout back and publishing the baseline' : "publishing Aviary's split again"}`,
    );
    await this.fileEvent(
      row,
      'FlagDriftDetected',
      `${what}. ${action === 'rollback-then-publish' ? 'Taken as a kill switch: the rollout is rolled back, everyone on the baseline, and the flag is published again with the baseline only.' : "Aviary's database is the source of truth: its split is published again over the change."}`,
      { kind: seen.drift, detail: seen.detail, changedBy: seen.changedBy, flag, action },
    );
    if (action === 'rollback-then-publish' && active) {
      try {
        await this.service.act(
          active.id,
          {
            type: 'rollback',
            actor: { name: `${this.publisher.name}:${seen.changedBy ?? 'unknown user'}`, automatic: false },
            reason: `${what}: a kill switch in ${this.publisher.name} means everyone on the baseline`,
          },
          { waitForPublishMs: 0, evidence: { flagDrift: seen.drift, changedBy: seen.changedBy } },
        );
        return;
      } catch (err) {
        // Someone rolled it back meanwhile: publishing the split again is all that is left.
        this.logger.warn(
          `could not roll back ${active.id} after ${what}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    await this.republish(row);
  }

  private async republish(row: PublicationRow): Promise<void> {
    await this.publications.republish(row.modelId);
    await this.reconciler.publishNow(row.modelId, 0);
  }

  private async fileEvent(
    row: PublicationRow,
    type: string,
    message: string,
    evidence: Record<string, unknown>,
  ): Promise<void> {
    const rolloutId = row.routing.rolloutId ?? (await this.events.latestRolloutOfModel(row.modelId));
    if (!rolloutId) return;
    await this.events.append({
      rolloutId,
      type,
      actor: 'aviary-flag-watcher',
      automatic: true,
      message,
      evidence: { ...evidence, publisher: this.publisher.name },
    });
  }
}

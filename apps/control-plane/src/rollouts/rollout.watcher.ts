import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  describeReport,
  describeWatchShortfalls,
  evaluateGuardrails,
  formatSeconds,
  type GuardrailReport,
  resolveGuardrails,
  type RolloutPlan,
  watchGuardrails,
  watchOf,
  watchOutcome,
  watchShortfalls,
  watchWindows,
} from '@aviary/domain';
import { EvidenceStore, type PrismaClient } from '@aviary/persistence';
import { toArmStats } from '../analysis/guardrail.analysis';
import { Periodic } from '../common/periodic';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { PRISMA } from '../database/database.tokens';
import { FlagPublicationRepository } from '../flags/flag-publication.repository';
import { FlagReconciler } from '../flags/flag-reconciler.service';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { RolloutEventRepository } from './rollout-event.repository';

const WATCH_EVENT = {
  regressed: 'WatchRegressed',
  passed: 'WatchPassed',
  inconclusive: 'WatchInconclusive',
} as const;

/** Evidence buckets are never wider than this, so the first one of a watch starts within it. */
const BUCKET_SLACK_MS = 3600_000;

/**
 * Watch after completion: the new stable version's evidence (routers keep stamping the completed
 * rollout on it while it is watched) is compared, every AVIARY_WATCH_CHECK_MS, with its own first
 * period using the guardrail statistics (watch.ts: the seed's drift limits). A regression is an event
 * (`WatchRegressed`, with how to revert), a metric and an alert; the watch then ends, as it does at
 * the end of its duration: `WatchPassed` only when the last comparison had every guardrail's minimum
 * samples in both windows, else `WatchInconclusive` (never a pass on no evidence).
 */
@Injectable()
export class RolloutWatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RolloutWatcher.name);
  private readonly store: EvidenceStore;
  private readonly periodic = new Periodic(
    () => this.check(),
    (err) =>
      this.logger.warn(
        `watching stable versions failed (will retry): ${err instanceof Error ? err.message : String(err)}`,
      ),
  );

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly publications: FlagPublicationRepository,
    private readonly reconciler: FlagReconciler,
    private readonly events: RolloutEventRepository,
    private readonly metrics: ControlPlaneMetrics,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {
    this.store = new EvidenceStore(prisma);
  }

  onApplicationBootstrap(): void {
    this.periodic.start(this.config.watchCheckMs);
  }

  onApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  async check(now = new Date()): Promise<void> {
    const watched = await this.prisma.rollout.findMany({
      where: { watchStatus: 'watching' },
      select: {
        id: true,
        modelId: true,
        plan: true,
        guardrails: true,
        watchStartedAt: true,
        candidateVersionId: true,
        candidateVersion: { select: { label: true } },
        baselineVersion: { select: { label: true } },
        model: {
          select: {
            name: true,
            stableVersionId: true,
            rollouts: { where: { active: true }, select: { id: true } },
          },
        },
      },
    });
    for (const r of watched) {
      if (!r.watchStartedAt) continue;
      const settings = watchOf(r.plan as unknown as RolloutPlan);
      const windows = watchWindows(r.watchStartedAt, settings, now);
      const stillStable = r.model.stableVersionId === r.candidateVersionId;
      let report: GuardrailReport | null = null;
      // Another rollout of the model owns its evidence meanwhile: nothing new to compare.
      if (windows.recent && stillStable && r.model.rollouts.length === 0) {
        const since = new Date(r.watchStartedAt.getTime() - BUCKET_SLACK_MS);
        // As the stable version it serves as the "baseline" of its routing: that is only after completion.
        const mine = (await this.store.armSeries(r.id, since)).filter(
          (x) => x.role === 'baseline' && x.versionId === r.candidateVersionId,
        );
        const reference = toArmStats(mine.filter((x) => x.bucketStart < windows.reference.to));
        const recentFrom = windows.recent.from;
        const recent = toArmStats(mine.filter((x) => x.bucketStart >= recentFrom));
        report = evaluateGuardrails(
          watchGuardrails(resolveGuardrails(r.guardrails as Parameters<typeof resolveGuardrails>[0])),
          reference,
          recent,
        );
      }
      const outcome = stillStable ? watchOutcome(windows, report) : 'passed';
      if (outcome === 'watching') continue;
      const model = r.model.name;
      const candidate = r.candidateVersion.label;
      const reference = formatSeconds(settings.referenceSeconds);
      const message =
        outcome === 'regressed' && report
          ? `${candidate} regressed as the stable version against its own first ${reference}: ${describeReport(report)}. ` +
            `Revert to ${r.baselineVersion.label} with: aviary revert ${model} --reason "…" (POST /api/v1/models/${model}/revert)`
          : outcome === 'inconclusive'
            ? `${candidate}'s watch is inconclusive: not enough answers after promotion to say whether it regressed against its first ${reference}` +
              (report
                ? ` (${describeWatchShortfalls(watchShortfalls(report))})`
                : ': no evidence could be compared')
            : stillStable
              ? `${candidate} passed its watch: no regression against its first ${reference} in ${formatSeconds(settings.durationSeconds)}`
              : `Watch ended: ${candidate} is no longer the stable version of ${model}`;
      const ended = await this.prisma.$transaction(async (tx) => {
        const res = await tx.rollout.updateMany({
          where: { id: r.id, watchStatus: 'watching' },
          data: { watchStatus: outcome },
        });
        if (res.count === 0) return false;
        await this.events.append(
          {
            rolloutId: r.id,
            type: WATCH_EVENT[outcome],
            actor: 'aviary-watch',
            automatic: true,
            message,
            evidence: {
              reference: windows.reference,
              recent: windows.recent,
              ...(report
                ? {
                    verdict: report.verdict,
                    guardrails: report.results.map((g) => ({
                      metric: g.metric,
                      verdict: g.verdict,
                      baseline: g.baseline,
                      candidate: g.candidate,
                      relativeChange: g.relativeChange,
                      interval: g.interval,
                      limit: g.limit,
                      samples: g.samples,
                      minSamples: g.minSamples,
                      reason: g.reason,
                    })),
                  }
                : {}),
            },
          },
          tx,
        );
        // The watch no longer owns the model's evidence: publish the routing without it.
        await this.publications.stage(tx, r.modelId);
        return true;
      });
      if (!ended) continue;
      if (outcome === 'regressed') {
        this.metrics.watchRegressions.inc({ model });
        this.logger.warn(message);
      }
      await this.reconciler.publishNow(r.modelId, 0);
    }
  }
}

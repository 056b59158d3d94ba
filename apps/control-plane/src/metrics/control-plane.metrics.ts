import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ANALYSIS_VERDICTS, deriveSplit, nextStepAt } from '@aviary/domain';
import { type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { rowToState } from '../rollouts/rollout.mapper';

/** Rollouts finished longer ago than this drop out of the phase gauge, so label sets stay bounded. */
const FINISHED_VISIBLE_MS = 24 * 3600_000;
/** Gauges collected within this window share one read of the rollouts (one scrape). */
const SCRAPE_REUSE_MS = 1000;

/** One registry per app instance (tests run several in one process). */
@Injectable()
export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly transitions: Counter<'model' | 'cause'>;
  readonly flagPublishes: Counter<'publisher' | 'outcome'>;
  readonly flagPublishSeconds: Histogram<'publisher'>;
  /** Flags found changed outside Aviary, by kind (disabled, archived, missing, candidate-disabled, edited). */
  readonly flagDrifts: Counter<'kind'>;
  /** Stable versions found regressed against their own first period (watch after completion). */
  readonly watchRegressions: Counter<'model'>;
  /** The latest analysis verdict per progressing rollout (set by the scheduler). */
  readonly analysisVerdict: Gauge<'model' | 'rollout' | 'verdict'>;
  /** Notification delivery attempts by destination type, kind and outcome (delivered, retry, failed). */
  readonly notifications: Counter<'type' | 'kind' | 'outcome'>;

  constructor(
    @Inject(PRISMA) prisma: PrismaClient,
    @Inject(CONTROL_PLANE_CONFIG) config: Pick<ControlPlaneConfig, 'analysis'>,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'aviary_control_plane_' });
    new Gauge({
      name: 'aviary_analysis_enabled',
      help: 'Whether guardrails judge rollout steps automatically: 0 with AVIARY_ANALYSIS=time-only (steps advance on time, nothing rolls back by itself)',
      labelNames: ['mode'],
      registers: [this.registry],
    }).set({ mode: config.analysis }, config.analysis === 'time-only' ? 0 : 1);
    this.transitions = new Counter({
      name: 'aviary_rollout_transitions_total',
      help: 'Rollout state transitions, by cause (start, promote, step-advanced, rollback, analysis-failed, ...)',
      labelNames: ['model', 'cause'],
      registers: [this.registry],
    });
    this.flagPublishes = new Counter({
      name: 'aviary_flag_publish_total',
      help: 'Attempts to publish a traffic split to the flag source, by outcome (success, failure)',
      labelNames: ['publisher', 'outcome'],
      registers: [this.registry],
    });
    this.flagPublishSeconds = new Histogram({
      name: 'aviary_flag_publish_duration_seconds',
      help: 'Time to publish one split to the flag source',
      labelNames: ['publisher'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.flagDrifts = new Counter({
      name: 'aviary_flag_drift_detected_total',
      help: 'Flags found changed in the flag source outside Aviary, by kind (disabled, archived, missing, candidate-disabled, edited)',
      labelNames: ['kind'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'aviary_flag_drift',
      help: "1 for a model whose flag differs from Aviary's split in the flag source (until the next read-back finds it repaired)",
      labelNames: ['model', 'kind'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await prisma.flagPublication.findMany({
          where: { drift: { not: null } },
          select: { drift: true, model: { select: { name: true } } },
        });
        for (const r of rows) this.set({ model: r.model.name, kind: r.drift ?? '' }, 1);
      },
    });
    this.watchRegressions = new Counter({
      name: 'aviary_watch_regressions_total',
      help: 'Stable versions found regressed against their own first period after a rollout completed',
      labelNames: ['model'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'aviary_stable_version_regressed',
      help: 'The model still serves a stable version whose watch found a regression (1 until it is reverted or replaced)',
      labelNames: ['model', 'rollout', 'version'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await prisma.rollout.findMany({
          where: { watchStatus: 'regressed' },
          select: {
            id: true,
            candidateVersionId: true,
            candidateVersion: { select: { label: true } },
            model: { select: { name: true, stableVersionId: true } },
          },
        });
        for (const r of rows) {
          if (r.model.stableVersionId !== r.candidateVersionId) continue;
          this.set({ model: r.model.name, rollout: r.id, version: r.candidateVersion.label }, 1);
        }
      },
    });
    this.notifications = new Counter({
      name: 'aviary_notifications_total',
      help: 'Notification delivery attempts, by destination type, kind and outcome (delivered, retry, failed: gave up)',
      labelNames: ['type', 'kind', 'outcome'],
      registers: [this.registry],
    });
    const query = () =>
      prisma.rollout.findMany({
        where: { OR: [{ active: true }, { updatedAt: { gt: new Date(Date.now() - FINISHED_VISIBLE_MS) } }] },
        select: {
          id: true,
          phase: true,
          stepIndex: true,
          stepStartedAt: true,
          pausedAt: true,
          plan: true,
          message: true,
          analysisMode: true,
          deadlineExceededAt: true,
          model: { select: { name: true } },
        },
      });
    // Three gauges read the same rows: one query per scrape, not one per gauge.
    let cached: { at: number; rows: ReturnType<typeof query> } | null = null;
    const recent = (): ReturnType<typeof query> => {
      const now = Date.now();
      if (!cached || now - cached.at > SCRAPE_REUSE_MS) {
        const rows = query();
        cached = { at: now, rows };
        rows.catch(() => (cached = null));
      }
      return cached.rows;
    };
    new Gauge({
      name: 'aviary_rollout_phase',
      help: 'Rollout phase: one series per rollout, labelled with the phase it is in (value 1); finished rollouts drop out a day after they finish',
      labelNames: ['model', 'rollout', 'phase'],
      registers: [this.registry],
      async collect() {
        // One series per rollout, not one per phase: a 0 for every other phase multiplied the
        // series by five and said nothing `phase` does not.
        this.reset();
        for (const r of await recent()) this.set({ model: r.model.name, rollout: r.id, phase: r.phase }, 1);
      },
    });
    new Gauge({
      name: 'aviary_rollout_candidate_weight_ratio',
      help: 'Share of users the candidate serves now, 0 to 1 (was aviary_rollout_candidate_weight_percent, 0 to 100)',
      labelNames: ['model', 'rollout'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const r of await recent())
          this.set({ model: r.model.name, rollout: r.id }, deriveSplit(rowToState(r)).candidateWeight / 100);
      },
    });
    new Gauge({
      name: 'aviary_rollout_step_overdue_seconds',
      help: 'How long a progressing rollout has stayed in its step past the step minimum (0 before it): a step that does not advance is waiting for evidence',
      labelNames: ['model', 'rollout'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const now = Date.now();
        for (const r of await recent()) {
          if (r.phase !== 'Progressing') continue;
          const due = nextStepAt(rowToState(r));
          this.set(
            { model: r.model.name, rollout: r.id },
            due ? Math.max(0, (now - due.getTime()) / 1000) : 0,
          );
        }
      },
    });
    this.analysisVerdict = new Gauge({
      name: 'aviary_rollout_analysis_verdict',
      help: `The latest analysis verdict of each progressing rollout: 1 for the verdict (${ANALYSIS_VERDICTS.join(', ')}), 0 for the others`,
      labelNames: ['model', 'rollout', 'verdict'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'aviary_flag_publications_pending',
      help: 'Models whose latest split has not yet been accepted by the flag source',
      registers: [this.registry],
      async collect() {
        const [row] = await prisma.$queryRaw<{ n: bigint }[]>`
          SELECT count(*) AS n FROM flag_publications WHERE published_revision IS NULL OR published_revision < revision`;
        this.set(Number(row?.n ?? 0));
      },
    });
  }

  /** Records a rollout's latest verdict; `forgetVerdictsExcept` drops rollouts no longer progressing. */
  recordVerdict(model: string, rollout: string, verdict: string): void {
    for (const v of ANALYSIS_VERDICTS)
      this.analysisVerdict.set({ model, rollout, verdict: v }, v === verdict ? 1 : 0);
    this.verdictLabels.set(rollout, model);
  }

  forgetVerdictsExcept(progressing: ReadonlySet<string>): void {
    for (const [rollout, model] of this.verdictLabels) {
      if (progressing.has(rollout)) continue;
      for (const verdict of ANALYSIS_VERDICTS) this.analysisVerdict.remove({ model, rollout, verdict });
      this.verdictLabels.delete(rollout);
    }
  }

  private readonly verdictLabels = new Map<string, string>();
}

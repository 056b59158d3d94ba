import { Inject, Injectable } from '@nestjs/common';
import {
  armMetrics,
  ACTIVE_PHASES,
  describeDecision,
  describeStep,
  isGate,
  stepTimeline,
  type AnalysisMode,
  type PlanStep,
  type ArmMetrics,
  type RolloutPhase,
  type RolloutPlan,
} from '@aviary/domain';
import { EvidenceStore, type ArmSeriesRow, type PrismaClient } from '@aviary/persistence';
import { GuardrailAnalysis, toArmStats, type AnalysisReport } from '../analysis/guardrail.analysis';
import { PRISMA } from '../database/database.tokens';
import { presentRollout } from '../rollouts/rollout.presenter';
import { rolloutInclude, type RolloutRecord } from '../rollouts/rollout.repository';

/** Finished rollouts listed per model on the overview, after the active one. */
const RECENT_PER_MODEL = 3;
/** Charts show at most this much history (the analyzer's buckets are a minute by default). */
const SERIES_WINDOW_MS = 48 * 3600 * 1000;
const DECISIONS_SHOWN = 100;
const EXAMPLE_PAIRS = 4;
const EXAMPLE_CHARS = 600;
/** Events that move a rollout (the timeline is built from these). */
const TRANSITIONS = [
  'Started',
  'Promoted',
  'PromotedFull',
  'Paused',
  'Resumed',
  'RolledBack',
  'Retried',
  'StepAdvanced',
  'Completed',
  'AutoRolledBack',
  'Approved',
  'DeadlineRolledBack',
];

export type RolloutSummary = ReturnType<typeof summarize>;

export interface StatusOverview {
  readonly generatedAt: string;
  readonly models: readonly {
    readonly name: string;
    readonly description: string | null;
    readonly stableVersion: string | null;
    readonly rollouts: readonly RolloutSummary[];
    /** The model's flag as the flag source last showed it, when it differed from Aviary's split. */
    readonly flagDrift: {
      readonly kind: string;
      readonly detail: string | null;
      readonly since: Date | null;
    } | null;
  }[];
}

export interface SeriesArm {
  readonly key: string;
  readonly versionLabel: string;
  readonly role: string;
  readonly points: readonly ({ readonly t: string } & ArmMetrics)[];
}

/** The read side of the status page: everything a page shows, in one answer per page. */
@Injectable()
export class StatusService {
  private readonly store: EvidenceStore;

  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly analysis: GuardrailAnalysis,
  ) {
    this.store = new EvidenceStore(prisma);
  }

  async overview(now = new Date()): Promise<StatusOverview> {
    const models = await this.prisma.model.findMany({
      orderBy: { name: 'asc' },
      select: {
        id: true,
        name: true,
        description: true,
        stableVersion: { select: { label: true } },
        publication: { select: { drift: true, driftDetail: true, driftAt: true } },
      },
    });
    // Every active rollout, and each model's most recent finished ones.
    const [active, finished] = await Promise.all([
      this.prisma.rollout.findMany({ where: { active: true }, include: rolloutInclude }),
      Promise.all(
        models.map((m) =>
          this.prisma.rollout.findMany({
            where: { modelId: m.id, active: false },
            include: rolloutInclude,
            orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
            take: RECENT_PER_MODEL,
          }),
        ),
      ),
    ]);
    return {
      generatedAt: now.toISOString(),
      models: models.map((m, i) => {
        const current = active.filter((r) => r.modelId === m.id);
        const recent = finished[i] ?? [];
        return {
          name: m.name,
          description: m.description,
          stableVersion: m.stableVersion?.label ?? null,
          rollouts: [...current, ...recent].map((r) => summarize(r, now)),
          flagDrift: m.publication?.drift
            ? { kind: m.publication.drift, detail: m.publication.driftDetail, since: m.publication.driftAt }
            : null,
        };
      }),
    };
  }

  async rollout(id: string, opts: { examples: boolean } = { examples: true }, now = new Date()) {
    const r = await this.prisma.rollout.findUnique({ where: { id }, include: rolloutInclude });
    if (!r) return null;
    const plan = r.plan as unknown as RolloutPlan;
    const [transitions, decisions, report, seriesRows, samples] = await Promise.all([
      this.prisma.rolloutEvent.findMany({
        where: { rolloutId: id, type: { in: TRANSITIONS } },
        orderBy: { id: 'asc' },
        take: 1000,
      }),
      this.prisma.rolloutEvent.findMany({
        where: { rolloutId: id },
        orderBy: { id: 'desc' },
        take: DECISIONS_SHOWN,
      }),
      this.analysis.report(id),
      // Only this rollout's evidence exists; the window just bounds a long rollout's history.
      this.store.armSeries(id, new Date(now.getTime() - SERIES_WINDOW_MS)),
      opts.examples ? this.store.recentSamples(id, EXAMPLE_PAIRS) : Promise.resolve([]),
    ]);
    const timeline = stepTimeline(
      plan,
      { phase: r.phase, stepIndex: r.stepIndex },
      transitions.map((e) => {
        const ev = (e.evidence ?? {}) as { fromStep?: unknown; toStep?: unknown };
        return {
          type: e.type,
          at: e.createdAt,
          fromStep: typeof ev.fromStep === 'number' ? ev.fromStep : -1,
          toStep: typeof ev.toStep === 'number' ? ev.toStep : (e.stepIndex ?? -1),
          toPhase: (e.toPhase ?? r.phase) as RolloutPhase,
        };
      }),
    );
    return {
      generatedAt: now.toISOString(),
      rollout: summarize(r, now),
      timeline,
      analysis: report,
      series: seriesOf(seriesRows, r, report),
      examples: samples.map((s) => ({
        at: s.at,
        prompt: promptText(s.prompt),
        baseline: clip(s.baselineOutput),
        shadow: clip(s.shadowOutput),
        similarity: s.similarity,
        baselineRefusal: s.baselineRefusal,
        shadowRefusal: s.shadowRefusal,
      })),
      decisions: decisions.map((e) => ({
        id: e.id.toString(),
        at: e.createdAt,
        type: e.type,
        actor: e.actor,
        automatic: e.automatic,
        ...describeDecision(
          {
            type: e.type,
            actor: e.actor,
            automatic: e.automatic,
            reason: e.reason,
            message: e.message,
            evidence: e.evidence,
          },
          plan,
        ),
      })),
    };
  }
}

/** A rollout's row on the overview: where it stands, the split, how long in the step, what is next. */
function summarize(r: RolloutRecord, now: Date) {
  const p = presentRollout(r);
  const steps = p.plan.steps;
  const active = ACTIVE_PHASES.includes(r.phase);
  const nextStep = r.phase === 'Pending' ? steps[0] : steps[p.step.index + 1];
  const startedAt = p.step.startedAt;
  return {
    id: p.id,
    model: p.model.name,
    baseline: p.baseline.label,
    candidate: p.candidate.label,
    phase: p.phase,
    step: { index: p.step.index, total: p.step.total, label: p.step.description },
    split: p.split,
    message: p.message,
    analysis: p.analysis,
    deadline: p.step.deadline,
    watch: p.watch,
    timeInStepSeconds:
      active && startedAt && r.phase !== 'Pending'
        ? Math.max(0, Math.floor(((r.pausedAt ?? now).getTime() - startedAt.getTime()) / 1000))
        : null,
    next: active
      ? {
          label: nextStep ? describeStep(nextStep) : 'complete: the candidate becomes stable',
          /** The step's minimum time; it moves then only if every guardrail passes. */
          notBefore: r.phase === 'Progressing' ? p.step.minDurationElapsesAt : null,
          waitingFor: waitingFor(r.phase, p.step.current, p.analysis),
        }
      : null,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

/** What the rollout's next step waits for, in the words the page shows. */
function waitingFor(
  phase: RolloutPhase,
  step: PlanStep | null,
  mode: AnalysisMode,
): 'start' | 'resume' | 'approval' | 'time' | 'guardrails' {
  if (phase === 'Pending') return 'start';
  if (phase === 'Paused') return 'resume';
  if (isGate(step)) return 'approval';
  if (step?.type === 'pause') return 'time';
  return mode === 'manual' ? 'approval' : 'guardrails';
}

/** Per time bucket and arm (version × role), the guardrail metrics; arms the current report compares first. */
function seriesOf(
  rows: readonly ArmSeriesRow[],
  r: RolloutRecord,
  report: AnalysisReport | null,
): SeriesArm[] {
  const labels = new Map<string, string>([
    [r.baselineVersion.id, r.baselineVersion.label],
    [r.candidateVersion.id, r.candidateVersion.label],
  ]);
  const arms = new Map<string, SeriesArm & { points: ({ t: string } & ArmMetrics)[] }>();
  for (const row of rows) {
    const key = `${row.versionId}/${row.role}`;
    const label = labels.get(row.versionId) ?? row.versionId.slice(0, 8);
    const arm = arms.get(key) ?? {
      key: `${label} (${row.role})`,
      versionLabel: label,
      role: row.role,
      points: [],
    };
    arm.points.push({ t: row.bucketStart.toISOString(), ...armMetrics(toArmStats([row])) });
    arms.set(key, arm);
  }
  const order = (a: SeriesArm) =>
    a.role === 'baseline' ? 0 : a.role === report?.candidateRole ? 1 : a.role === 'candidate' ? 2 : 3;
  return [...arms.values()].sort((a, b) => order(a) - order(b) || a.key.localeCompare(b.key));
}

function clip(text: string | null): string | null {
  if (text === null) return null;
  return text.length > EXAMPLE_CHARS ? `${text.slice(0, EXAMPLE_CHARS)}…` : text;
}

/** The last user message of a stored prompt (or null when prompts are not captured). */
function promptText(prompt: unknown): string | null {
  if (typeof prompt === 'string') return clip(prompt);
  if (Array.isArray(prompt)) {
    for (let i = prompt.length - 1; i >= 0; i--) {
      const m = prompt[i] as { role?: unknown; content?: unknown };
      if (m && m.role === 'user' && typeof m.content === 'string') return clip(m.content);
    }
  }
  return null;
}

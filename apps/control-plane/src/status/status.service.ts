import { Inject, Injectable } from '@nestjs/common';
import {
  armMetrics,
  ACTIVE_PHASES,
  analysisHeadline,
  CHANGE_TYPES,
  describeChange,
  describeDecision,
  describeStep,
  GUARDRAIL_LABELS,
  guardrailLine,
  historyCounts,
  isGate,
  PHASE_LABELS,
  rolloutAttempts,
  splitLegend,
  stepTimeline,
  type Change,
  type DecisionRecord,
  type RolloutAttempt,
  type StoryEvent,
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
/** A model's history page lists this many rollouts, newest first. */
const HISTORY_SHOWN = 200;
/** "What changed this week": the overview's window and how many changes it lists at most. */
const CHANGES_WINDOW_MS = 7 * 24 * 3600 * 1000;
const CHANGES_SHOWN = 50;
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
  /** Rollouts started, retried, completed, rolled back or reverted in the last seven days, newest first. */
  readonly changes: readonly (Change & { readonly rolloutId: string })[];
  readonly models: readonly {
    readonly name: string;
    readonly description: string | null;
    readonly stableVersion: string | null;
    readonly rollouts: readonly RolloutSummary[];
    /** "4 rollouts: 1 completed, 2 rolled back, 1 in progress." (the history page has them all) */
    readonly history: string;
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
    // Every active rollout, each model's most recent finished ones, and the week's changes.
    const [active, finished, phases, changes] = await Promise.all([
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
      this.prisma.rollout.groupBy({ by: ['modelId', 'phase'], _count: { _all: true } }),
      this.changes(now),
    ]);
    return {
      generatedAt: now.toISOString(),
      changes,
      models: models.map((m, i) => {
        const current = active.filter((r) => r.modelId === m.id);
        const recent = finished[i] ?? [];
        return {
          name: m.name,
          description: m.description,
          stableVersion: m.stableVersion?.label ?? null,
          rollouts: [...current, ...recent].map((r) => summarize(r, now)),
          history: historyCounts(
            phases
              .filter((p) => p.modelId === m.id)
              .flatMap((p) => new Array<RolloutPhase>(p._count._all).fill(p.phase)),
          ),
          flagDrift: m.publication?.drift
            ? { kind: m.publication.drift, detail: m.publication.driftDetail, since: m.publication.driftAt }
            : null,
        };
      }),
    };
  }

  /** The week's changes across every model, newest first, in plain words. */
  private async changes(now: Date): Promise<(Change & { rolloutId: string })[]> {
    const events = await this.prisma.rolloutEvent.findMany({
      where: {
        type: { in: [...CHANGE_TYPES] },
        createdAt: { gte: new Date(now.getTime() - CHANGES_WINDOW_MS) },
      },
      orderBy: { id: 'desc' },
      take: CHANGES_SHOWN,
      include: { rollout: { include: rolloutInclude } },
    });
    return events.flatMap((e) => {
      const change = describeChange({
        type: e.type,
        at: e.createdAt,
        model: e.rollout.model.name,
        baseline: e.rollout.baselineVersion.label,
        candidate: e.rollout.candidateVersion.label,
        actor: e.actor,
        automatic: e.automatic,
        headline: decisionOf(e, e.rollout.plan as unknown as RolloutPlan).headline,
      });
      return change ? [{ ...change, rolloutId: e.rolloutId }] : [];
    });
  }

  /** Every rollout of one model, newest first: how each ended, when and by whom (null: no such model). */
  async modelHistory(name: string, now = new Date()) {
    const model = await this.prisma.model.findUnique({
      where: { name },
      select: { id: true, name: true, description: true, stableVersion: { select: { label: true } } },
    });
    if (!model) return null;
    const rollouts = await this.prisma.rollout.findMany({
      where: { modelId: model.id },
      include: rolloutInclude,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: HISTORY_SHOWN,
    });
    const events = await this.prisma.rolloutEvent.findMany({
      where: { rolloutId: { in: rollouts.map((r) => r.id) }, type: { in: TRANSITIONS } },
      orderBy: { id: 'asc' },
    });
    return {
      generatedAt: now.toISOString(),
      model: {
        name: model.name,
        description: model.description,
        stableVersion: model.stableVersion?.label ?? null,
      },
      summary: historyCounts(rollouts.map((r) => r.phase)),
      rollouts: rollouts.map((r) => {
        const attempts = attemptsOf(
          r,
          events.filter((e) => e.rolloutId === r.id),
        );
        const last = attempts.at(-1) ?? null;
        return {
          ...summarize(r, now),
          startedAt: attempts[0]?.startedAt ?? null,
          attempts: attempts.map(({ number, startedAt, startedBy, ending, summary }) => ({
            number,
            startedAt,
            startedBy,
            ending,
            summary,
          })),
          ending: last?.ending ?? null,
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
    const attempts = attemptsOf(r, transitions);
    const current = attempts.at(-1) ?? null;
    const lines = report ? report.guardrails.map((g) => guardrailLine(g)) : [];
    const lastEnding = [...attempts].reverse().find((a) => a.ending)?.ending ?? null;
    return {
      generatedAt: now.toISOString(),
      rollout: summarize(r, now),
      /** The current attempt's steps (every step ahead before the rollout starts). */
      timeline: current?.steps ?? stepTimeline(plan, { phase: r.phase, stepIndex: r.stepIndex }, []),
      /** Every attempt, oldest first: a retry keeps the rollback before it. */
      attempts,
      analysis: report && {
        ...report,
        /** The step's verdict in words, or what happened once the rollout ended. */
        plain: analysisHeadline(r.phase, report.verdict, lines, r.phase === 'RolledBack' ? lastEnding : null),
        guardrails: report.guardrails.map((g, i) => ({ ...g, line: lines[i]! })),
        disabledLabels: report.disabled.map((m) => GUARDRAIL_LABELS[m] ?? m),
      },
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
        ...decisionOf(e, plan),
      })),
    };
  }
}

interface StoredEvent extends DecisionRecord {
  readonly createdAt: Date;
  readonly stepIndex: number | null;
  readonly toPhase: string | null;
}

/** The page's words for a decision (an automatic rollback's figures in words, not its interval). */
function decisionOf(e: StoredEvent, plan: RolloutPlan) {
  return describeDecision(e, plan, 'plain');
}

/** The rollout's attempts from its transitions (oldest first), each with its own step timeline. */
function attemptsOf(r: RolloutRecord, transitions: readonly StoredEvent[]): RolloutAttempt[] {
  const plan = r.plan as unknown as RolloutPlan;
  return rolloutAttempts(
    plan,
    { phase: r.phase, stepIndex: r.stepIndex },
    transitions.map((e): StoryEvent => {
      const ev = (e.evidence ?? {}) as { fromStep?: unknown; toStep?: unknown };
      return {
        type: e.type,
        at: e.createdAt,
        fromStep: typeof ev.fromStep === 'number' ? ev.fromStep : -1,
        toStep: typeof ev.toStep === 'number' ? ev.toStep : (e.stepIndex ?? -1),
        toPhase: (e.toPhase ?? r.phase) as RolloutPhase,
        actor: e.actor,
        automatic: e.automatic,
        headline: decisionOf(e, plan).headline,
      };
    }),
  );
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
    /** The page's word for the phase; the API name in brackets where they differ. */
    phaseText: PHASE_LABELS[r.phase],
    step: { index: p.step.index, total: p.step.total, label: p.step.description },
    split: p.split,
    legend: splitLegend(p.split, { baseline: p.baseline.label, candidate: p.candidate.label }),
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

import {
  cohortAnalysisNote,
  CLUSTER_FIELD,
  CLUSTER_FIELD_COUNT,
  compareCost,
  mergeArmStats,
  type CostComparison,
  DEFAULT_JUDGE_GATE,
  describeGuardrailPlainly,
  describeReport,
  effectiveFeedbackWindowSeconds,
  emptyArmStats,
  emptyClusters,
  EVIDENCE_CLUSTERS,
  holdbackPercent,
  judgeGate,
  judgeRolloutStep,
  projectedSecondsToDecide,
  roleOfStep,
  type JudgeGateResult,
  type JudgeGateSettings,
  GUARDRAIL_LABELS,
  resolveGuardrails,
  type ArmEvidence,
  type ArmStats,
  type EvidenceStratum,
  type GoldenItem,
  type GuardrailReport,
  type GuardrailRequirement,
  type PlanStep,
  type RolloutPlan,
  type StepAnalysis,
  type StepAnalysisRequest,
  type StepAnalysisResult,
} from '@aviary/domain';
import {
  addCounters,
  emptyArmCounters,
  type ArmCounters,
  type ArmRevisionRow,
  type ClusterTotalRow,
  type EvidenceStore,
  type PairCounters,
  type PrismaClient,
  type RecentFeedbackRow,
} from '@aviary/persistence';
import { VERSION_FOR_ROUTING_SELECT, type VersionForRouting } from '../flags/routing.builder';
import { type GoldenResult, type GoldenSetRunner } from './golden-set.runner';

/** What a PM (or the decision log) reads about a rollout's current step. */
export interface AnalysisReport {
  readonly rolloutId: string;
  readonly evaluatedAt: string;
  readonly stepIndex: number;
  readonly step: PlanStep | null;
  /** What the candidate arm is: the shadow copies (shadow step) or the users it served (canary). */
  readonly candidateRole: 'shadow' | 'candidate';
  /** The routing revision the step started with (latency is compared on this step's evidence). */
  readonly fromRevision: number | null;
  /**
   * The revision this attempt began with: every step since is pooled, each compared with the
   * baseline served at the same time (null for rollouts started before pooling: this step only).
   */
  readonly attemptFromRevision: number | null;
  /**
   * 'concurrent': the baseline served part of the traffic during this step (at 100% and in the bake,
   * the holdback); 'none': it served nobody in this step (holdback off), so the step is judged on
   * the earlier steps' evidence.
   */
  readonly baselineSource: 'concurrent' | 'none';
  /** What this step must show to pass (see docs/guardrail-statistics.md). */
  readonly requirement: GuardrailRequirement;
  /** Users kept on the baseline at 100% and in the bake. */
  readonly holdbackPercent: number;
  readonly verdict: GuardrailReport['verdict'];
  /**
   * Inconclusive on the guardrails alone (no judge or golden set holding it): how long until they
   * would decide at this step's pace, when every undecided one is on track (projectedSecondsToDecide).
   * What a progress deadline's grace acts on.
   */
  readonly secondsToDecide: number | null;
  readonly summary: string;
  readonly arms: { readonly baseline: ArmSummary; readonly candidate: ArmSummary };
  /**
   * What the arms' answers cost over this attempt (every step pooled, the current step's role), from
   * the routers' per-request costs; the sentence is the status page's line.
   */
  readonly cost: CostComparison;
  readonly guardrails: readonly (GuardrailReport['results'][number] & {
    readonly label: string;
    /** The verdict in a PM's words ("waiting for 2 more hours of feedback"). */
    readonly plain: string;
  })[];
  readonly disabled: GuardrailReport['disabled'];
  readonly alpha: number;
  readonly shadow: ShadowComparison | null;
  /** The LLM judge's gate in a shadow step (null in canary steps). */
  readonly judge: JudgeGateResult | null;
  /** The golden set's offline check (first step only; null without a golden set). */
  readonly golden: { readonly status: 'running' | 'done'; readonly result: GoldenResult | null } | null;
}

export interface ArmSummary {
  readonly versionId: string;
  readonly versionLabel: string;
  readonly requests: number;
  readonly errors: number;
  readonly feedback: number;
}

export interface ShadowComparison {
  readonly pairs: number;
  readonly comparable: number;
  readonly exactMatchRate: number | null;
  readonly meanSimilarity: number | null;
  /** Normal-approximation 95% interval of the mean similarity (informational). */
  readonly similarityInterval: { readonly lower: number; readonly upper: number } | null;
  readonly meanLengthRatio: number | null;
  readonly shadowOnlyRefusalRate: number | null;
  readonly baselineOnlyRefusalRate: number | null;
  readonly shadowErrorRate: number | null;
}

interface RolloutForAnalysis {
  readonly id: string;
  readonly stepIndex: number;
  readonly stepRevision: number | null;
  readonly attemptRevision: number | null;
  readonly stepStartedAt: Date | null;
  readonly pausedAt: Date | null;
  readonly plan: unknown;
  readonly guardrails: unknown;
  readonly shadowGate: unknown;
  readonly goldenSet: unknown;
  readonly goldenResult: unknown;
  readonly baselineVersion: VersionForRouting;
  readonly candidateVersion: VersionForRouting;
}

/**
 * Step verdicts from the guardrail statistics (libs/domain, judgeRolloutStep) over the evidence the
 * analyzer stored: every routing revision of this attempt is a stratum (candidate vs the baseline
 * served at the same time, or the shadow copies vs the baseline in a shadow step), with per-cluster
 * counters for the variance and the ratings of answers still inside their feedback window marked.
 * Continuous: the scheduler asks on every tick, so a Failed guardrail rolls back at once instead of
 * at the end of the step.
 */
export class GuardrailAnalysis implements StepAnalysis {
  readonly name = 'guardrails';
  readonly continuous = true;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly store: EvidenceStore,
    private readonly golden: GoldenSetRunner,
  ) {}

  async evaluate(request: StepAnalysisRequest): Promise<StepAnalysisResult> {
    const report = await this.report(request.rolloutId);
    if (!report) return { verdict: 'Error', detail: `rollout ${request.rolloutId} not found` };
    return {
      verdict: report.verdict,
      detail: report.summary,
      ...(report.secondsToDecide === null ? {} : { secondsToDecide: report.secondsToDecide }),
      evidence: {
        candidateRole: report.candidateRole,
        fromRevision: report.fromRevision,
        baselineSource: report.baselineSource,
        arms: report.arms,
        guardrails: report.guardrails.map((g) => ({
          metric: g.metric,
          verdict: g.verdict,
          proven: g.proven,
          plain: g.plain,
          baseline: g.baseline,
          candidate: g.candidate,
          relativeChange: g.relativeChange,
          interval: g.interval,
          limit: g.limit,
          ceiling: g.ceiling,
          samples: g.samples,
          reason: g.reason,
          ...(g.evidence ? { evidence: g.evidence } : {}),
          ...(g.harm ? { harm: g.harm } : {}),
          ...(g.feedbackWindow ? { feedbackWindow: g.feedbackWindow } : {}),
        })),
        method: 'rollout-wide',
        requirement: report.requirement,
        attemptFromRevision: report.attemptFromRevision,
        holdbackPercent: report.holdbackPercent,
        alpha: report.alpha,
        ...(report.shadow ? { shadow: report.shadow } : {}),
        ...(report.judge ? { judge: report.judge } : {}),
      },
    };
  }

  /** The current step's comparison, or null when the rollout does not exist. */
  async report(rolloutId: string, now = new Date()): Promise<AnalysisReport | null> {
    const r: RolloutForAnalysis | null = await this.prisma.rollout.findUnique({
      where: { id: rolloutId },
      select: {
        id: true,
        stepIndex: true,
        stepRevision: true,
        attemptRevision: true,
        stepStartedAt: true,
        pausedAt: true,
        plan: true,
        guardrails: true,
        shadowGate: true,
        goldenSet: true,
        goldenResult: true,
        baselineVersion: { select: VERSION_FOR_ROUTING_SELECT },
        candidateVersion: { select: VERSION_FOR_ROUTING_SELECT },
      },
    });
    if (!r) return null;
    const plan = r.plan as RolloutPlan;
    const step = plan.steps[r.stepIndex] ?? null;
    const candidateRole = roleOfStep(plan, r.stepIndex);
    const fromRevision = r.stepRevision;
    // Rollouts started before pooling have no attempt revision: their current step only.
    const attemptFrom = r.attemptRevision ?? r.stepRevision;
    const settings = resolveGuardrails(r.guardrails as Parameters<typeof resolveGuardrails>[0]);
    const windowSeconds = effectiveFeedbackWindowSeconds(settings, plan, r.stepIndex);
    const [rows, clusterRows, recent] = await Promise.all([
      this.store.armTotalsByRevision(r.id, attemptFrom),
      this.store.clusterTotals(r.id, attemptFrom),
      windowSeconds > 0
        ? this.store.recentFeedback(r.id, attemptFrom, new Date(now.getTime() - windowSeconds * 1000))
        : Promise.resolve([]),
    ]);
    const strata = buildStrata(rows, clusterRows, recent, r.baselineVersion.id, r.candidateVersion.id);
    const clockEnd = r.pausedAt ?? now;
    const stepAgeSeconds = r.stepStartedAt
      ? Math.max(0, (clockEnd.getTime() - r.stepStartedAt.getTime()) / 1000)
      : 0;
    const report = judgeRolloutStep({
      settings,
      plan,
      stepIndex: r.stepIndex,
      strata,
      stepFromRevision: fromRevision ?? attemptFrom ?? 0,
      stepAgeSeconds,
    });
    const own = strata.filter((x) => x.candidateRole === candidateRole);
    const current = own.filter((x) => fromRevision === null || x.revision >= fromRevision);
    const baseline = sumArms(own.map((x) => x.baseline));
    const candidate = sumArms(own.map((x) => x.candidate));
    const baselineSource = sumArms(current.map((x) => x.baseline)).requests > 0 ? 'concurrent' : 'none';
    const pairs = candidateRole === 'shadow' ? await this.store.pairTotals(r.id, fromRevision) : null;
    const gateSettings: JudgeGateSettings = {
      ...DEFAULT_JUDGE_GATE,
      ...(r.shadowGate as Partial<JudgeGateSettings>),
    };
    const judge = pairs
      ? judgeGate(gateSettings, { wins: pairs.judgeWins, ties: pairs.judgeTies, losses: pairs.judgeLosses })
      : null;
    const golden = this.goldenCheck(r);
    const verdict = withGolden(combine(report.verdict, judge, gateSettings), golden);
    const cohort = cohortAnalysisNote(plan, r.stepIndex);
    const summaryText =
      (cohort ? `${cohort}; ` : '') +
      (golden
        ? `${golden.result ? golden.result.summary : 'golden set: running against both versions'}; `
        : '') +
      `${candidateRole === 'shadow' ? 'shadow vs baseline' : 'candidate vs baseline'}: ${describeReport(report)}` +
      (judge && (judge.verdict !== 'NoData' || gateSettings.onMissingData === 'hold')
        ? `; ${judge.reason}`
        : '');
    return {
      rolloutId: r.id,
      evaluatedAt: now.toISOString(),
      stepIndex: r.stepIndex,
      step,
      candidateRole,
      fromRevision,
      attemptFromRevision: r.attemptRevision,
      baselineSource,
      requirement: report.requirement,
      holdbackPercent: holdbackPercent(plan),
      verdict,
      // The projection is the guardrails': a judge or golden set that holds the step has none.
      secondsToDecide:
        verdict === report.verdict && (judge === null || judge.verdict === 'Successful') && golden === null
          ? projectedSecondsToDecide(report)
          : null,
      summary: verdict === report.verdict ? summaryText : `${verdict}: ${summaryText}`,
      arms: {
        baseline: summary(r.baselineVersion, baseline),
        candidate: summary(r.candidateVersion, candidate),
      },
      cost: compareCost(
        own.reduce((a, x) => mergeArmStats(a, x.baseline.totals), emptyArmStats()),
        own.reduce((a, x) => mergeArmStats(a, x.candidate.totals), emptyArmStats()),
      ),
      guardrails: report.results.map((g) => ({
        ...g,
        label: GUARDRAIL_LABELS[g.metric],
        plain: describeGuardrailPlainly(g),
      })),
      disabled: report.disabled,
      alpha: report.alpha,
      shadow: pairs ? shadowComparison(pairs) : null,
      judge,
      golden,
    };
  }

  /** In the first step of a rollout with a golden set: its result, starting the run if needed. */
  private goldenCheck(r: RolloutForAnalysis): AnalysisReport['golden'] {
    if (r.stepIndex !== 0 || !Array.isArray(r.goldenSet)) return null;
    if (r.goldenResult) return { status: 'done', result: r.goldenResult as GoldenResult };
    void this.golden.start(r.id, r.goldenSet as GoldenItem[], r.baselineVersion, r.candidateVersion);
    return { status: 'running', result: null };
  }
}

/** The golden set gates the first step: a failed check fails it; a running one holds it. */
function withGolden(
  verdict: GuardrailReport['verdict'],
  golden: AnalysisReport['golden'],
): GuardrailReport['verdict'] {
  if (!golden) return verdict;
  if (golden.result?.verdict === 'Failed') return 'Failed';
  if (!golden.result) return verdict === 'Failed' ? 'Failed' : 'Inconclusive';
  return verdict;
}

/** The guardrails and, in a shadow step, the judge: either can fail the step; both must pass it. */
function combine(
  guardrails: GuardrailReport['verdict'],
  judge: JudgeGateResult | null,
  settings: JudgeGateSettings,
): GuardrailReport['verdict'] {
  if (judge === null) return guardrails;
  if (guardrails === 'Failed' || judge.verdict === 'Failed') return 'Failed';
  const judgePasses =
    judge.verdict === 'Successful' || (judge.verdict === 'NoData' && settings.onMissingData === 'ignore');
  return guardrails === 'Successful' && judgePasses ? 'Successful' : 'Inconclusive';
}

/** The analyzer's stored counters (summed over rows) as the domain's per-arm statistics. */
export function toArmStats(rows: readonly ArmCounters[]): ArmStats {
  const sum = emptyArmCounters();
  for (const r of rows) addCounters(sum, r);
  const arm = emptyArmStats();
  arm.requests = sum.requests;
  arm.errors = sum.errors;
  arm.refusals = sum.refusals;
  arm.silentFailures = sum.silentFailures;
  arm.feedback = sum.feedback;
  arm.thumbsDown = sum.thumbsDown;
  arm.outputTokens = { n: sum.tokensN, sum: sum.tokensSum, sumSq: sum.tokensSumSq };
  arm.cost = { n: sum.costN, sum: sum.costSum, sumSq: sum.costSumSq };
  arm.usefulAnswers = sum.usefulAnswers;
  for (let i = 0; i < Math.min(arm.latency.counts.length, sum.latencyCounts.length); i++)
    arm.latency.counts[i] = sum.latencyCounts[i] ?? 0;
  for (let i = 0; i < Math.min(arm.ttft.counts.length, sum.ttftCounts.length); i++)
    arm.ttft.counts[i] = sum.ttftCounts[i] ?? 0;
  return arm;
}

/**
 * The stored counters as the domain's strata: one per revision, the baseline's rows against the
 * candidate's (or the shadow copies') rows of the same revision, with per-cluster counters and the
 * ratings still inside their feedback window.
 */
export function buildStrata(
  rows: readonly ArmRevisionRow[],
  clusterRows: readonly ClusterTotalRow[],
  recent: readonly RecentFeedbackRow[],
  baselineVersionId: string,
  candidateVersionId: string,
): EvidenceStratum[] {
  type Arm = {
    totals: ArmCounters[];
    clusters: Float64Array;
    immatureFeedback: number;
    immatureThumbsDown: number;
  };
  const byRevision = new Map<number, { shadow: boolean; baseline: Arm; candidate: Arm }>();
  const newArm = (): Arm => ({
    totals: [],
    clusters: emptyClusters(),
    immatureFeedback: 0,
    immatureThumbsDown: 0,
  });
  const stratum = (revision: number) => {
    let s = byRevision.get(revision);
    if (!s) byRevision.set(revision, (s = { shadow: false, baseline: newArm(), candidate: newArm() }));
    return s;
  };
  // Which arm a row belongs to; null for rows of other versions (a previous baseline, say).
  const armOf = (row: { revision: number; versionId: string; role: string }): Arm | null => {
    if (row.role === 'baseline' && row.versionId === baselineVersionId) return stratum(row.revision).baseline;
    if ((row.role === 'candidate' || row.role === 'shadow') && row.versionId === candidateVersionId) {
      const s = stratum(row.revision);
      if (row.role === 'shadow') s.shadow = true;
      return s.candidate;
    }
    return null;
  };
  for (const row of rows) armOf(row)?.totals.push(row);
  for (const row of clusterRows) {
    const arm = armOf(row);
    if (!arm || row.cluster < 0 || row.cluster >= EVIDENCE_CLUSTERS) continue;
    const base = row.cluster * CLUSTER_FIELD_COUNT;
    const add = (field: keyof typeof CLUSTER_FIELD, v: number): void => {
      const i = base + CLUSTER_FIELD[field];
      arm.clusters[i] = (arm.clusters[i] ?? 0) + v;
    };
    add('requests', row.requests);
    add('errors', row.errors);
    add('refusals', row.refusals);
    add('silentFailures', row.silentFailures);
    add('feedback', row.feedback);
    add('thumbsDown', row.thumbsDown);
    add('tokensN', row.tokensN);
    add('tokensSum', row.tokensSum);
    add('costN', row.costN);
    add('costSum', row.costSum);
  }
  for (const row of recent) {
    const arm = armOf(row);
    if (!arm) continue;
    arm.immatureFeedback += row.feedback;
    arm.immatureThumbsDown += row.thumbsDown;
  }
  const evidence = (a: Arm): ArmEvidence => ({
    totals: toArmStats(a.totals),
    clusters: a.clusters,
    immatureFeedback: a.immatureFeedback,
    immatureThumbsDown: a.immatureThumbsDown,
  });
  return [...byRevision.entries()]
    .sort(([a], [b]) => a - b)
    .map(([revision, s]) => ({
      revision,
      candidateRole: s.shadow ? 'shadow' : 'candidate',
      baseline: evidence(s.baseline),
      candidate: evidence(s.candidate),
    }));
}

function sumArms(arms: readonly ArmEvidence[]): ArmStats {
  const sum = emptyArmStats();
  for (const a of arms) {
    sum.requests += a.totals.requests;
    sum.errors += a.totals.errors;
    sum.feedback += a.totals.feedback;
  }
  return sum;
}

function summary(version: { id: string; label: string }, arm: ArmStats): ArmSummary {
  return {
    versionId: version.id,
    versionLabel: version.label,
    requests: arm.requests,
    errors: arm.errors,
    feedback: arm.feedback,
  };
}

function shadowComparison(p: PairCounters): ShadowComparison {
  const ratio = (n: number, d: number) => (d > 0 ? n / d : null);
  const mean = ratio(p.similaritySum, p.comparable);
  let similarityInterval: ShadowComparison['similarityInterval'] = null;
  if (mean !== null && p.comparable > 1) {
    const variance = Math.max(0, (p.similaritySumSq - p.comparable * mean * mean) / (p.comparable - 1));
    const half = 1.96 * Math.sqrt(variance / p.comparable);
    similarityInterval = { lower: Math.max(0, mean - half), upper: Math.min(1, mean + half) };
  }
  return {
    pairs: p.pairs,
    comparable: p.comparable,
    exactMatchRate: ratio(p.exactMatches, p.comparable),
    meanSimilarity: mean,
    similarityInterval,
    meanLengthRatio: ratio(p.lengthRatioSum, p.comparable),
    shadowOnlyRefusalRate: ratio(p.shadowOnlyRefusals, p.comparable),
    baselineOnlyRefusalRate: ratio(p.baselineOnlyRefusals, p.comparable),
    shadowErrorRate: ratio(p.shadowErrors, p.pairs),
  };
}

import {
  DEFAULT_JUDGE_GATE,
  describeReport,
  effectiveStep,
  emptyArmStats,
  judgeGate,
  type JudgeGateResult,
  type JudgeGateSettings,
  evaluateGuardrails,
  GUARDRAIL_LABELS,
  resolveGuardrails,
  type ArmStats,
  type GoldenItem,
  type GuardrailReport,
  type GuardrailSettings,
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
  type EvidenceStore,
  type PairCounters,
  type PrismaClient,
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
  /** The routing revision the step started with; evidence from earlier revisions is not counted. */
  readonly fromRevision: number | null;
  /** Where the baseline figures come from: this step, or the whole rollout when this step sends it nobody. */
  readonly baselineSource: 'step' | 'rollout';
  readonly verdict: GuardrailReport['verdict'];
  readonly summary: string;
  readonly arms: { readonly baseline: ArmSummary; readonly candidate: ArmSummary };
  readonly guardrails: readonly (GuardrailReport['results'][number] & { readonly label: string })[];
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
  readonly plan: unknown;
  readonly guardrails: unknown;
  readonly shadowGate: unknown;
  readonly goldenSet: unknown;
  readonly goldenResult: unknown;
  readonly baselineVersion: VersionForRouting;
  readonly candidateVersion: VersionForRouting;
}

/**
 * Step verdicts from the guardrail statistics (libs/domain) over the evidence the analyzer stored:
 * baseline vs candidate (or vs the shadow copies in a shadow step), cumulative since the step's
 * routing revision. Continuous: the scheduler asks on every tick, so a Failed guardrail rolls back
 * at once instead of at the end of the step.
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
      evidence: {
        candidateRole: report.candidateRole,
        fromRevision: report.fromRevision,
        baselineSource: report.baselineSource,
        arms: report.arms,
        guardrails: report.guardrails.map((g) => ({
          metric: g.metric,
          verdict: g.verdict,
          proven: g.proven,
          baseline: g.baseline,
          candidate: g.candidate,
          relativeChange: g.relativeChange,
          interval: g.interval,
          limit: g.limit,
          ceiling: g.ceiling,
          samples: g.samples,
          reason: g.reason,
        })),
        alpha: report.alpha,
        ...(report.shadow ? { shadow: report.shadow } : {}),
        ...(report.judge ? { judge: report.judge } : {}),
      },
    };
  }

  /** The current step's comparison, or null when the rollout does not exist. */
  async report(rolloutId: string): Promise<AnalysisReport | null> {
    const r: RolloutForAnalysis | null = await this.prisma.rollout.findUnique({
      where: { id: rolloutId },
      select: {
        id: true,
        stepIndex: true,
        stepRevision: true,
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
    // A pause keeps the split of the step before it (a gate after shadow still compares the shadow).
    const candidateRole = effectiveStep(plan, r.stepIndex)?.type === 'shadow' ? 'shadow' : 'candidate';
    const fromRevision = r.stepRevision;
    const rows = await this.store.armTotals(r.id, fromRevision);
    const baselineRows = rows.filter((x) => x.role === 'baseline' && x.versionId === r.baselineVersion.id);
    let baseline = toArmStats(baselineRows);
    let baselineSource: 'step' | 'rollout' = 'step';
    const settings = settingsFor(r.guardrails, candidateRole);
    const minSamples = Math.min(...Object.values(settings).map((s) => s.minSamples));
    if (baseline.requests < minSamples && fromRevision !== null) {
      // At 100% (and in the bake) the baseline serves nobody: compare with what it did earlier in the rollout.
      const all = await this.store.armTotals(r.id, null);
      const earlier = toArmStats(
        all.filter((x) => x.role === 'baseline' && x.versionId === r.baselineVersion.id),
      );
      if (earlier.requests > baseline.requests) {
        baseline = earlier;
        baselineSource = 'rollout';
      }
    }
    const candidate = toArmStats(
      rows.filter((x) => x.role === candidateRole && x.versionId === r.candidateVersion.id),
    );
    const report = evaluateGuardrails(settings, baseline, candidate);
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
    const summaryText =
      (golden
        ? `${golden.result ? golden.result.summary : 'golden set: running against both versions'}; `
        : '') +
      `${candidateRole === 'shadow' ? 'shadow vs baseline' : 'candidate vs baseline'}: ${describeReport(report)}` +
      (judge && (judge.verdict !== 'NoData' || gateSettings.onMissingData === 'hold')
        ? `; ${judge.reason}`
        : '');
    return {
      rolloutId: r.id,
      evaluatedAt: new Date().toISOString(),
      stepIndex: r.stepIndex,
      step,
      candidateRole,
      fromRevision,
      baselineSource,
      verdict,
      summary: verdict === report.verdict ? summaryText : `${verdict}: ${summaryText}`,
      arms: {
        baseline: summary(r.baselineVersion, baseline),
        candidate: summary(r.candidateVersion, candidate),
      },
      guardrails: report.results.map((g) => ({ ...g, label: GUARDRAIL_LABELS[g.metric] })),
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

/** Nobody rates answers they never saw: thumbs-down does not apply to shadow copies. */
function settingsFor(stored: unknown, candidateRole: 'shadow' | 'candidate'): GuardrailSettings {
  const settings = resolveGuardrails(stored as Parameters<typeof resolveGuardrails>[0]);
  if (candidateRole !== 'shadow') return settings;
  return { ...settings, thumbsDownRate: { ...settings.thumbsDownRate, enabled: false } };
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
  for (let i = 0; i < Math.min(arm.latency.counts.length, sum.latencyCounts.length); i++)
    arm.latency.counts[i] = sum.latencyCounts[i] ?? 0;
  return arm;
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

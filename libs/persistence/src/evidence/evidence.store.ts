import type { PrismaClient } from '../generated/prisma/client';

/**
 * The analyzer's evidence tables (see prisma/schema.prisma): per-arm counters and shadow-comparison
 * counters, added to at least once and deduplicated through analysis_seen_events.
 *
 * Every contribution is written twice: into its time bucket (charts over time) and into a running
 * total for its (rollout, revision, version, role) under TOTAL_BUCKET, so a guardrail evaluation
 * reads a handful of rows however long the step has been running.
 */
export const TOTAL_BUCKET = new Date(0);

export type EvidenceKind = 'outcome' | 'pair' | 'feedback' | 'judge';

export interface SeenKey {
  readonly kind: EvidenceKind;
  readonly requestId: string;
  /** The serving role for outcomes; '' otherwise. */
  readonly role: string;
}

export interface ArmCounters {
  requests: number;
  errors: number;
  refusals: number;
  silentFailures: number;
  feedback: number;
  thumbsDown: number;
  tokensN: number;
  tokensSum: number;
  tokensSumSq: number;
  /** USD of answered requests with a known cost, their count and the sum of squares. */
  costN: number;
  costSum: number;
  costSumSq: number;
  /** Answers that are neither errors, refusals nor silent failures. */
  usefulAnswers: number;
  /** Dense counts per latency bucket. */
  latencyCounts: number[];
  /** Dense counts per latency bucket of streamed answers' time to first token. */
  ttftCounts: number[];
}

export interface ArmContribution extends ArmCounters {
  readonly rolloutId: string;
  readonly revision: number;
  readonly versionId: string;
  readonly role: string;
  readonly bucketStart: Date;
}

export interface PairCounters {
  pairs: number;
  comparable: number;
  exactMatches: number;
  similaritySum: number;
  similaritySumSq: number;
  lengthRatioSum: number;
  shadowOnlyRefusals: number;
  baselineOnlyRefusals: number;
  jsonPairs: number;
  shadowInvalidJson: number;
  baselineInvalidJson: number;
  shadowErrors: number;
  judgeWins: number;
  judgeTies: number;
  judgeLosses: number;
  judgeErrors: number;
}

export interface PairContribution extends PairCounters {
  readonly rolloutId: string;
  readonly revision: number;
  readonly bucketStart: Date;
}

export interface PairSampleInput {
  readonly rolloutId: string;
  readonly requestId: string;
  readonly at: Date;
  readonly prompt: unknown;
  readonly baselineOutput: string | null;
  readonly shadowOutput: string | null;
  readonly similarity: number | null;
  readonly baselineRefusal: boolean;
  readonly shadowRefusal: boolean;
}

/** One user cluster's share of an arm (the guardrails' variance is measured between clusters). */
export interface ClusterCounters {
  requests: number;
  errors: number;
  refusals: number;
  silentFailures: number;
  feedback: number;
  thumbsDown: number;
  tokensN: number;
  tokensSum: number;
  costN: number;
  costSum: number;
}

export interface ClusterContribution extends ClusterCounters {
  readonly rolloutId: string;
  readonly revision: number;
  readonly versionId: string;
  readonly role: string;
  readonly cluster: number;
}

/** Ratings of answers served in one minute (the minute the answer was served, not the rating). */
export interface FeedbackMinuteContribution {
  readonly rolloutId: string;
  readonly servedMinute: Date;
  readonly revision: number;
  readonly versionId: string;
  readonly role: string;
  readonly feedback: number;
  readonly thumbsDown: number;
}

export interface EvidenceBatch {
  readonly arms: readonly ArmContribution[];
  readonly pairs: readonly PairContribution[];
  readonly samples: readonly PairSampleInput[];
  readonly clusters?: readonly ClusterContribution[];
  readonly feedbackMinutes?: readonly FeedbackMinuteContribution[];
}

export interface ClusterTotalRow extends ClusterCounters {
  readonly revision: number;
  readonly versionId: string;
  readonly role: string;
  readonly cluster: number;
}

export interface RecentFeedbackRow {
  readonly revision: number;
  readonly versionId: string;
  readonly role: string;
  readonly feedback: number;
  readonly thumbsDown: number;
}

/** Width of the served-time buckets of analysis_feedback_minutes. */
export const FEEDBACK_MINUTE_MS = 60_000;

export interface ArmTotalRow extends ArmCounters {
  readonly versionId: string;
  readonly role: string;
}

export interface ArmRevisionRow extends ArmTotalRow {
  readonly revision: number;
}

export interface ArmSeriesRow extends ArmTotalRow {
  readonly bucketStart: Date;
}

export interface PairSampleRow extends PairSampleInput {
  readonly id: bigint;
}

export const seenKeyId = (k: SeenKey): string => `${k.kind}\u0000${k.requestId}\u0000${k.role}`;

type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

export class EvidenceStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * In one transaction: records which of `keys` were not seen before, builds the batch from just
   * those (`build` gets their ids, see seenKeyId) and adds it. A redelivered event changes nothing.
   * Returns how many keys were new.
   */
  async applyOnce(
    keys: readonly SeenKey[],
    build: (fresh: ReadonlySet<string>) => EvidenceBatch,
  ): Promise<number> {
    const unique = new Map<string, SeenKey>();
    for (const k of keys) unique.set(seenKeyId(k), k);
    if (unique.size === 0) return 0;
    const list = [...unique.values()];
    return this.prisma.$transaction(async (tx) => {
      const inserted = await tx.$queryRaw<{ kind: string; request_id: string; role: string }[]>`
        INSERT INTO analysis_seen_events (kind, request_id, role)
        SELECT * FROM unnest(${list.map((k) => k.kind)}::text[], ${list.map((k) => k.requestId)}::text[],
                             ${list.map((k) => k.role)}::text[])
        ON CONFLICT DO NOTHING
        RETURNING kind, request_id, role`;
      const fresh = new Set(
        inserted.map((r) =>
          seenKeyId({ kind: r.kind as EvidenceKind, requestId: r.request_id, role: r.role }),
        ),
      );
      if (fresh.size === 0) return 0;
      const batch = build(fresh);
      for (const arm of batch.arms) {
        await addArm(tx, arm);
        await addArm(tx, { ...arm, bucketStart: TOTAL_BUCKET });
      }
      for (const pair of batch.pairs) {
        await addPair(tx, pair);
        await addPair(tx, { ...pair, bucketStart: TOTAL_BUCKET });
      }
      if (batch.clusters && batch.clusters.length > 0) await addClusters(tx, batch.clusters);
      if (batch.feedbackMinutes && batch.feedbackMinutes.length > 0)
        await addFeedbackMinutes(tx, batch.feedbackMinutes);
      if (batch.samples.length > 0) {
        await tx.analysisPairSample.createMany({
          data: batch.samples.map((s) => ({
            rolloutId: s.rolloutId,
            requestId: s.requestId,
            at: s.at,
            prompt: s.prompt === null ? undefined : (s.prompt as object),
            baselineOutput: s.baselineOutput,
            shadowOutput: s.shadowOutput,
            similarity: s.similarity,
            baselineRefusal: s.baselineRefusal,
            shadowRefusal: s.shadowRefusal,
          })),
        });
      }
      return fresh.size;
    });
  }

  /** Running totals per (version, role) over the revisions from `fromRevision` on (null: all). */
  async armTotals(rolloutId: string, fromRevision: number | null): Promise<ArmTotalRow[]> {
    const rows = await this.prisma.analysisAggregate.findMany({
      where: {
        rolloutId,
        bucketStart: TOTAL_BUCKET,
        ...(fromRevision !== null ? { revision: { gte: fromRevision } } : {}),
      },
    });
    const byArm = new Map<string, ArmTotalRow>();
    for (const r of rows) {
      const key = `${r.versionId}/${r.role}`;
      const acc = byArm.get(key) ?? { versionId: r.versionId, role: r.role, ...emptyArmCounters() };
      addCounters(acc, r);
      byArm.set(key, acc);
    }
    return [...byArm.values()];
  }

  /** Running totals per (revision, version, role) over the revisions from `fromRevision` on (null: all). */
  async armTotalsByRevision(rolloutId: string, fromRevision: number | null): Promise<ArmRevisionRow[]> {
    const rows = await this.prisma.analysisAggregate.findMany({
      where: {
        rolloutId,
        bucketStart: TOTAL_BUCKET,
        ...(fromRevision !== null ? { revision: { gte: fromRevision } } : {}),
      },
    });
    return rows.map((r) => {
      const acc: ArmRevisionRow = {
        revision: r.revision,
        versionId: r.versionId,
        role: r.role,
        ...emptyArmCounters(),
      };
      addCounters(acc, r);
      return acc;
    });
  }

  /** Per-cluster running totals per (revision, version, role), revisions from `fromRevision` on. */
  async clusterTotals(rolloutId: string, fromRevision: number | null): Promise<ClusterTotalRow[]> {
    const rows = await this.prisma.analysisClusterTotal.findMany({
      where: { rolloutId, ...(fromRevision !== null ? { revision: { gte: fromRevision } } : {}) },
      select: {
        revision: true,
        versionId: true,
        role: true,
        cluster: true,
        requests: true,
        errors: true,
        refusals: true,
        silentFailures: true,
        feedback: true,
        thumbsDown: true,
        tokensN: true,
        tokensSum: true,
        costN: true,
        costSum: true,
      },
    });
    return rows;
  }

  /**
   * Ratings of answers served at or after `servedSince`, summed per (revision, version, role), for
   * revisions from `fromRevision` on: what is still inside its feedback window.
   */
  async recentFeedback(
    rolloutId: string,
    fromRevision: number | null,
    servedSince: Date,
  ): Promise<RecentFeedbackRow[]> {
    const minute = new Date(Math.floor(servedSince.getTime() / FEEDBACK_MINUTE_MS) * FEEDBACK_MINUTE_MS);
    const rows = await this.prisma.analysisFeedbackMinute.groupBy({
      by: ['revision', 'versionId', 'role'],
      where: {
        rolloutId,
        servedMinute: { gte: minute },
        ...(fromRevision !== null ? { revision: { gte: fromRevision } } : {}),
      },
      _sum: { feedback: true, thumbsDown: true },
    });
    return rows.map((r) => ({
      revision: r.revision,
      versionId: r.versionId,
      role: r.role,
      feedback: r._sum.feedback ?? 0,
      thumbsDown: r._sum.thumbsDown ?? 0,
    }));
  }

  /** Forgets ratings-by-minute older than `before` (longer ago than any feedback window). */
  async pruneFeedbackMinutes(before: Date): Promise<number> {
    const { count } = await this.prisma.analysisFeedbackMinute.deleteMany({
      where: { servedMinute: { lt: before } },
    });
    return count;
  }

  /** Time buckets since `since`, per (version, role), for charts. */
  async armSeries(rolloutId: string, since: Date): Promise<ArmSeriesRow[]> {
    const rows = await this.prisma.analysisAggregate.findMany({
      where: { rolloutId, bucketStart: { gte: since } },
      orderBy: { bucketStart: 'asc' },
    });
    const byKey = new Map<string, ArmSeriesRow>();
    for (const r of rows) {
      if (r.bucketStart.getTime() === TOTAL_BUCKET.getTime()) continue;
      const key = `${r.bucketStart.getTime()}/${r.versionId}/${r.role}`;
      const acc = byKey.get(key) ?? {
        bucketStart: r.bucketStart,
        versionId: r.versionId,
        role: r.role,
        ...emptyArmCounters(),
      };
      addCounters(acc, r);
      byKey.set(key, acc);
    }
    return [...byKey.values()];
  }

  async pairTotals(rolloutId: string, fromRevision: number | null): Promise<PairCounters> {
    const rows = await this.prisma.analysisPairAggregate.findMany({
      where: {
        rolloutId,
        bucketStart: TOTAL_BUCKET,
        ...(fromRevision !== null ? { revision: { gte: fromRevision } } : {}),
      },
    });
    const acc = emptyPairCounters();
    for (const r of rows) {
      for (const k of Object.keys(acc) as (keyof PairCounters)[]) acc[k] += r[k];
    }
    return acc;
  }

  /** Judge calls made for a rollout so far (its budget), over all revisions. */
  async judgeCalls(rolloutId: string): Promise<number> {
    const t = await this.pairTotals(rolloutId, null);
    return t.judgeWins + t.judgeTies + t.judgeLosses + t.judgeErrors;
  }

  async recentSamples(rolloutId: string, limit: number): Promise<PairSampleRow[]> {
    const rows = await this.prisma.analysisPairSample.findMany({
      where: { rolloutId },
      orderBy: { id: 'desc' },
      take: limit,
    });
    return rows.map((r) => ({ ...r, prompt: r.prompt ?? null }));
  }

  /** Forgets dedup keys older than `before` (an event redelivered after that would count again). */
  async pruneSeen(before: Date): Promise<number> {
    const { count } = await this.prisma.analysisSeenEvent.deleteMany({ where: { seenAt: { lt: before } } });
    return count;
  }

  /** Keeps the newest `keep` samples per rollout. */
  async prunePairSamples(keep: number): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM analysis_pair_samples s USING (
        SELECT id FROM (
          SELECT id, row_number() OVER (PARTITION BY rollout_id ORDER BY id DESC) AS n FROM analysis_pair_samples
        ) ranked WHERE n > ${keep}
      ) old WHERE s.id = old.id`;
  }
}

export function emptyArmCounters(): ArmCounters {
  return {
    requests: 0,
    errors: 0,
    refusals: 0,
    silentFailures: 0,
    feedback: 0,
    thumbsDown: 0,
    tokensN: 0,
    tokensSum: 0,
    tokensSumSq: 0,
    costN: 0,
    costSum: 0,
    costSumSq: 0,
    usefulAnswers: 0,
    latencyCounts: [],
    ttftCounts: [],
  };
}

export function emptyPairCounters(): PairCounters {
  return {
    pairs: 0,
    comparable: 0,
    exactMatches: 0,
    similaritySum: 0,
    similaritySumSq: 0,
    lengthRatioSum: 0,
    shadowOnlyRefusals: 0,
    baselineOnlyRefusals: 0,
    jsonPairs: 0,
    shadowInvalidJson: 0,
    baselineInvalidJson: 0,
    shadowErrors: 0,
    judgeWins: 0,
    judgeTies: 0,
    judgeLosses: 0,
    judgeErrors: 0,
  };
}

/** Adds `b` into `a` (latency counts element-wise, growing `a` as needed). */
export function addCounters(a: ArmCounters, b: ArmCounters): void {
  a.requests += b.requests;
  a.errors += b.errors;
  a.refusals += b.refusals;
  a.silentFailures += b.silentFailures;
  a.feedback += b.feedback;
  a.thumbsDown += b.thumbsDown;
  a.tokensN += b.tokensN;
  a.tokensSum += b.tokensSum;
  a.tokensSumSq += b.tokensSumSq;
  a.costN += b.costN;
  a.costSum += b.costSum;
  a.costSumSq += b.costSumSq;
  a.usefulAnswers += b.usefulAnswers;
  addDense(a.latencyCounts, b.latencyCounts);
  addDense(a.ttftCounts, b.ttftCounts);
}

function addDense(a: number[], b: readonly number[]): void {
  for (let i = 0; i < b.length; i++) a[i] = (a[i] ?? 0) + (b[i] ?? 0);
}

async function addArm(tx: Tx, a: ArmContribution): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO analysis_aggregates AS t (rollout_id, revision, version_id, role, bucket_start, requests, errors,
      refusals, silent_failures, feedback, thumbs_down, tokens_n, tokens_sum, tokens_sum_sq, cost_n, cost_sum,
      cost_sum_sq, useful_answers, latency_counts, ttft_counts, updated_at)
    VALUES (${a.rolloutId}::uuid, ${a.revision}, ${a.versionId}::uuid, ${a.role}, ${a.bucketStart}, ${a.requests},
      ${a.errors}, ${a.refusals}, ${a.silentFailures}, ${a.feedback}, ${a.thumbsDown}, ${a.tokensN}, ${a.tokensSum},
      ${a.tokensSumSq}, ${a.costN}, ${a.costSum}, ${a.costSumSq}, ${a.usefulAnswers}, ${a.latencyCounts}::int[],
      ${a.ttftCounts}::int[], now())
    ON CONFLICT (rollout_id, revision, version_id, role, bucket_start) DO UPDATE SET
      requests = t.requests + EXCLUDED.requests,
      errors = t.errors + EXCLUDED.errors,
      refusals = t.refusals + EXCLUDED.refusals,
      silent_failures = t.silent_failures + EXCLUDED.silent_failures,
      feedback = t.feedback + EXCLUDED.feedback,
      thumbs_down = t.thumbs_down + EXCLUDED.thumbs_down,
      tokens_n = t.tokens_n + EXCLUDED.tokens_n,
      tokens_sum = t.tokens_sum + EXCLUDED.tokens_sum,
      tokens_sum_sq = t.tokens_sum_sq + EXCLUDED.tokens_sum_sq,
      cost_n = t.cost_n + EXCLUDED.cost_n,
      cost_sum = t.cost_sum + EXCLUDED.cost_sum,
      cost_sum_sq = t.cost_sum_sq + EXCLUDED.cost_sum_sq,
      useful_answers = t.useful_answers + EXCLUDED.useful_answers,
      latency_counts = (
        SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
        FROM unnest(t.latency_counts, EXCLUDED.latency_counts) WITH ORDINALITY AS u(x, y, i)
      ),
      ttft_counts = (
        SELECT coalesce(array_agg(coalesce(x, 0) + coalesce(y, 0) ORDER BY i), '{}')
        FROM unnest(t.ttft_counts, EXCLUDED.ttft_counts) WITH ORDINALITY AS u(x, y, i)
      ),
      updated_at = now()`;
}

/** All of a batch's cluster rows in one statement (a batch touches up to 100 clusters per arm). */
async function addClusters(tx: Tx, rows: readonly ClusterContribution[]): Promise<void> {
  const col = <K extends keyof ClusterContribution>(k: K) => rows.map((r) => r[k]);
  await tx.$executeRaw`
    INSERT INTO analysis_cluster_totals AS t (rollout_id, revision, version_id, role, cluster, requests, errors,
      refusals, silent_failures, feedback, thumbs_down, tokens_n, tokens_sum, cost_n, cost_sum, updated_at)
    SELECT r.rollout_id, r.revision, r.version_id, r.role, r.cluster, r.requests, r.errors, r.refusals,
      r.silent_failures, r.feedback, r.thumbs_down, r.tokens_n, r.tokens_sum, r.cost_n, r.cost_sum, now()
    FROM unnest(${col('rolloutId')}::uuid[], ${col('revision')}::int[], ${col('versionId')}::uuid[],
      ${col('role')}::text[], ${col('cluster')}::smallint[], ${col('requests')}::int[], ${col('errors')}::int[],
      ${col('refusals')}::int[], ${col('silentFailures')}::int[], ${col('feedback')}::int[],
      ${col('thumbsDown')}::int[], ${col('tokensN')}::int[], ${col('tokensSum')}::float8[],
      ${col('costN')}::int[], ${col('costSum')}::float8[])
      AS r(rollout_id, revision, version_id, role, cluster, requests, errors, refusals, silent_failures, feedback,
           thumbs_down, tokens_n, tokens_sum, cost_n, cost_sum)
    ON CONFLICT (rollout_id, revision, version_id, role, cluster) DO UPDATE SET
      requests = t.requests + EXCLUDED.requests,
      errors = t.errors + EXCLUDED.errors,
      refusals = t.refusals + EXCLUDED.refusals,
      silent_failures = t.silent_failures + EXCLUDED.silent_failures,
      feedback = t.feedback + EXCLUDED.feedback,
      thumbs_down = t.thumbs_down + EXCLUDED.thumbs_down,
      tokens_n = t.tokens_n + EXCLUDED.tokens_n,
      tokens_sum = t.tokens_sum + EXCLUDED.tokens_sum,
      cost_n = t.cost_n + EXCLUDED.cost_n,
      cost_sum = t.cost_sum + EXCLUDED.cost_sum,
      updated_at = now()`;
}

async function addFeedbackMinutes(tx: Tx, rows: readonly FeedbackMinuteContribution[]): Promise<void> {
  const col = <K extends keyof FeedbackMinuteContribution>(k: K) => rows.map((r) => r[k]);
  await tx.$executeRaw`
    INSERT INTO analysis_feedback_minutes AS t (rollout_id, served_minute, revision, version_id, role, feedback,
      thumbs_down)
    SELECT * FROM unnest(${col('rolloutId')}::uuid[], ${rows.map((r) => r.servedMinute.toISOString())}::timestamptz[],
      ${col('revision')}::int[], ${col('versionId')}::uuid[], ${col('role')}::text[], ${col('feedback')}::int[],
      ${col('thumbsDown')}::int[])
    ON CONFLICT (rollout_id, served_minute, revision, version_id, role) DO UPDATE SET
      feedback = t.feedback + EXCLUDED.feedback,
      thumbs_down = t.thumbs_down + EXCLUDED.thumbs_down`;
}

async function addPair(tx: Tx, p: PairContribution): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO analysis_pair_aggregates AS t (rollout_id, revision, bucket_start, pairs, comparable, exact_matches,
      similarity_sum, similarity_sum_sq, length_ratio_sum, shadow_only_refusals, baseline_only_refusals, json_pairs,
      shadow_invalid_json, baseline_invalid_json, shadow_errors, judge_wins, judge_ties, judge_losses, judge_errors,
      updated_at)
    VALUES (${p.rolloutId}::uuid, ${p.revision}, ${p.bucketStart}, ${p.pairs}, ${p.comparable}, ${p.exactMatches},
      ${p.similaritySum}, ${p.similaritySumSq}, ${p.lengthRatioSum}, ${p.shadowOnlyRefusals}, ${p.baselineOnlyRefusals},
      ${p.jsonPairs}, ${p.shadowInvalidJson}, ${p.baselineInvalidJson}, ${p.shadowErrors}, ${p.judgeWins},
      ${p.judgeTies}, ${p.judgeLosses}, ${p.judgeErrors}, now())
    ON CONFLICT (rollout_id, revision, bucket_start) DO UPDATE SET
      pairs = t.pairs + EXCLUDED.pairs,
      comparable = t.comparable + EXCLUDED.comparable,
      exact_matches = t.exact_matches + EXCLUDED.exact_matches,
      similarity_sum = t.similarity_sum + EXCLUDED.similarity_sum,
      similarity_sum_sq = t.similarity_sum_sq + EXCLUDED.similarity_sum_sq,
      length_ratio_sum = t.length_ratio_sum + EXCLUDED.length_ratio_sum,
      shadow_only_refusals = t.shadow_only_refusals + EXCLUDED.shadow_only_refusals,
      baseline_only_refusals = t.baseline_only_refusals + EXCLUDED.baseline_only_refusals,
      json_pairs = t.json_pairs + EXCLUDED.json_pairs,
      shadow_invalid_json = t.shadow_invalid_json + EXCLUDED.shadow_invalid_json,
      baseline_invalid_json = t.baseline_invalid_json + EXCLUDED.baseline_invalid_json,
      shadow_errors = t.shadow_errors + EXCLUDED.shadow_errors,
      judge_wins = t.judge_wins + EXCLUDED.judge_wins,
      judge_ties = t.judge_ties + EXCLUDED.judge_ties,
      judge_losses = t.judge_losses + EXCLUDED.judge_losses,
      judge_errors = t.judge_errors + EXCLUDED.judge_errors,
      updated_at = now()`;
}

import {
  feedbackEventSchema,
  outcomeEventSchema,
  pairEventSchema,
  TOPICS,
  type FeedbackEvent,
  type OutcomeEvent,
  type PairEvent,
} from '@aviary/contracts';
import {
  clusterOf,
  comparePair,
  emptyArmStats,
  recordFeedback,
  recordOutcome,
  type ArmStats,
  type ReceivedEvent,
} from '@aviary/domain';
import {
  emptyPairCounters,
  FEEDBACK_MINUTE_MS,
  seenKeyId,
  type ArmContribution,
  type ClusterContribution,
  type EvidenceBatch,
  type EvidenceStore,
  type FeedbackMinuteContribution,
  type PairContribution,
  type PairSampleInput,
  type SeenKey,
} from '@aviary/persistence';

export interface IngestOptions {
  /** Width of the time buckets kept for charts. */
  readonly bucketSeconds: number;
  /** At most this many example pairs per rollout and batch are kept for people to read. */
  readonly samplesPerBatch: number;
  /** Called, after the batch is stored, with each new pair where both sides answered (the judge samples them). */
  readonly onComparablePair?: (pair: ComparablePair) => void;
}

export interface ComparablePair {
  readonly rolloutId: string;
  readonly revision: number;
  readonly requestId: string;
  readonly bucketStart: Date;
  readonly prompt: readonly { readonly role: string; readonly content: string }[] | null;
  readonly baseline: string;
  readonly shadow: string;
}

export interface IngestResult {
  readonly received: number;
  /** Not one of ours (wrong shape / unknown topic): logged and skipped, never retried. */
  readonly invalid: number;
  /**
   * Valid but outside any rollout (nothing to compare), not the model's doing (client aborts, shed), or
   * not a random sample (forced versions, cohort-routed requests).
   */
  readonly ignored: number;
  /** Seen before (redelivered): not counted again. */
  readonly duplicates: number;
  readonly counted: number;
}

/** Error classes that say nothing about the model: the user went away, or the router turned it away. */
const NOT_THE_MODELS_DOING = new Set(['client_aborted', 'shed']);

type Parsed =
  | { kind: 'outcome'; key: SeenKey; event: OutcomeEvent & { rolloutId: string } }
  | { kind: 'pair'; key: SeenKey; event: PairEvent & { rolloutId: string } }
  | { kind: 'feedback'; key: SeenKey; event: FeedbackEvent & { rolloutId: string } };

/**
 * Turns a batch of router evidence into counters and adds them to the store, once per event: outcomes
 * and feedback into per-arm counters (rollout, routing revision, version, role) and into the same
 * counters per user cluster (the stickiness bucket: the guardrails measure their variance between
 * clusters), shadow pairs into comparison counters. Feedback is attributed to the version, role,
 * revision, cluster and serving time of the rated answer (the router signed them into the request
 * id), whenever it arrives; ratings are also kept by the minute the answer was served, so the
 * thumbs-down guardrail can leave out answers still inside their feedback window.
 */
export class EvidenceIngestor {
  constructor(
    private readonly store: EvidenceStore,
    private readonly options: IngestOptions,
    private readonly log: (level: 'warn' | 'info', message: string) => void = () => undefined,
  ) {}

  async ingest(events: readonly ReceivedEvent[]): Promise<IngestResult> {
    let invalid = 0;
    let ignored = 0;
    const parsed: Parsed[] = [];
    for (const e of events) {
      const p = parse(e);
      if (p === 'invalid') {
        if (invalid++ === 0)
          this.log('warn', `skipping an event on ${e.topic} that is not a valid Aviary event`);
      } else if (p === null) ignored++;
      else parsed.push(p);
    }
    let comparable: ComparablePair[] = [];
    const fresh = await this.store.applyOnce(
      parsed.map((p) => p.key),
      (ids) => {
        const built = this.batch(parsed.filter((p) => ids.has(seenKeyId(p.key))));
        comparable = built.comparable;
        return built;
      },
    );
    if (this.options.onComparablePair) for (const pair of comparable) this.options.onComparablePair(pair);
    // Duplicates inside the batch and events seen in an earlier batch alike.
    return { received: events.length, invalid, ignored, duplicates: parsed.length - fresh, counted: fresh };
  }

  private batch(events: readonly Parsed[]): EvidenceBatch & { comparable: ComparablePair[] } {
    const arms = new Map<string, { key: Omit<ArmContribution, keyof ArmCountersLike>; stats: ArmStats }>();
    const clusters = new Map<
      string,
      { key: Omit<ClusterContribution, keyof ClusterCountersLike>; stats: ArmStats }
    >();
    const minutes = new Map<string, FeedbackMinuteContribution>();
    const pairs = new Map<string, PairContribution>();
    const samples: PairSampleInput[] = [];
    const comparable: ComparablePair[] = [];
    const sampled = new Map<string, number>();
    const seen = new Set<string>();
    const arm = (rolloutId: string, revision: number, versionId: string, role: string, at: string) => {
      const bucketStart = this.bucket(at);
      const id = `${rolloutId}/${revision}/${versionId}/${role}/${bucketStart.getTime()}`;
      let a = arms.get(id);
      if (!a)
        arms.set(
          id,
          (a = { key: { rolloutId, revision, versionId, role, bucketStart }, stats: emptyArmStats() }),
        );
      return a.stats;
    };
    // The same counters per user cluster, for the guardrails' between-cluster variance.
    const cluster = (rolloutId: string, revision: number, versionId: string, role: string, g: number) => {
      const id = `${rolloutId}/${revision}/${versionId}/${role}/${g}`;
      let c = clusters.get(id);
      if (!c)
        clusters.set(
          id,
          (c = { key: { rolloutId, revision, versionId, role, cluster: g }, stats: emptyArmStats() }),
        );
      return c.stats;
    };
    for (const p of events) {
      const keyId = seenKeyId(p.key);
      if (seen.has(keyId)) continue; // the same event twice in one batch
      seen.add(keyId);
      if (p.kind === 'outcome') {
        const o = p.event;
        const outcome = {
          error: o.errorClass !== null,
          refusal: o.refusal,
          empty: o.empty,
          invalidJson: o.invalidJson,
          jsonRequested: o.jsonRequested,
          toolCallErrors: o.toolCallErrors ?? 0,
          latencyMs: o.latencyMs,
          stream: o.stream,
          ttftMs: o.ttftMs,
          outputTokens: o.completionTokens,
          costUsd: o.costUsd ?? null,
        };
        recordOutcome(arm(o.rolloutId, o.revision, o.versionId, o.role, o.at), outcome);
        recordOutcome(
          cluster(o.rolloutId, o.revision, o.versionId, o.role, clusterOf(o.stickinessBucket, o.requestId)),
          outcome,
        );
      } else if (p.kind === 'feedback') {
        const f = p.event;
        // The revision (signed into the request id by the router) ties it to the step that served
        // the request, however late it arrives; the time is when the answer was served (older
        // routers do not say: then when the rating was given).
        const servedAt = f.servedAt ?? f.at;
        recordFeedback(arm(f.rolloutId, f.revision, f.versionId, f.role, servedAt), f.rating);
        recordFeedback(
          cluster(f.rolloutId, f.revision, f.versionId, f.role, clusterOf(f.stickinessBucket, f.requestId)),
          f.rating,
        );
        const servedMinute = minuteOf(servedAt);
        const id = `${f.rolloutId}/${servedMinute.getTime()}/${f.revision}/${f.versionId}/${f.role}`;
        const m = minutes.get(id) ?? {
          rolloutId: f.rolloutId,
          servedMinute,
          revision: f.revision,
          versionId: f.versionId,
          role: f.role,
          feedback: 0,
          thumbsDown: 0,
        };
        minutes.set(id, {
          ...m,
          feedback: m.feedback + 1,
          thumbsDown: m.thumbsDown + (f.rating === 'down' ? 1 : 0),
        });
      } else {
        const e = p.event;
        const bucketStart = this.bucket(e.at);
        const id = `${e.rolloutId}/${e.revision}/${bucketStart.getTime()}`;
        let acc = pairs.get(id);
        if (!acc)
          pairs.set(
            id,
            (acc = { rolloutId: e.rolloutId, revision: e.revision, bucketStart, ...emptyPairCounters() }),
          );
        const c = comparePair(e.baseline, e.shadow, e.similarity);
        if (
          e.baseline.output !== null &&
          e.shadow.output !== null &&
          e.baseline.errorClass === null &&
          e.shadow.errorClass === null
        )
          comparable.push({
            rolloutId: e.rolloutId,
            revision: e.revision,
            requestId: e.requestId,
            bucketStart,
            prompt: e.prompt,
            baseline: e.baseline.output,
            shadow: e.shadow.output,
          });
        acc.pairs++;
        if (e.shadow.errorClass !== null) acc.shadowErrors++;
        if (c.comparable) {
          acc.comparable++;
          if (c.exactMatch) acc.exactMatches++;
          acc.similaritySum += c.similarity ?? 0;
          acc.similaritySumSq += (c.similarity ?? 0) ** 2;
          acc.lengthRatioSum += c.lengthRatio ?? 0;
          if (c.shadowOnlyRefusal) acc.shadowOnlyRefusals++;
          if (c.baselineOnlyRefusal) acc.baselineOnlyRefusals++;
          if (e.jsonRequested) {
            acc.jsonPairs++;
            if (e.shadow.invalidJson) acc.shadowInvalidJson++;
            if (e.baseline.invalidJson) acc.baselineInvalidJson++;
          }
        }
        const n = sampled.get(e.rolloutId) ?? 0;
        if (n < this.options.samplesPerBatch) {
          sampled.set(e.rolloutId, n + 1);
          samples.push({
            rolloutId: e.rolloutId,
            requestId: e.requestId,
            at: new Date(e.at),
            // Text people read later: PostgreSQL's text and jsonb cannot hold a NUL, so it goes.
            prompt:
              e.prompt?.map((m) => ({ role: withoutNul(m.role), content: withoutNul(m.content) })) ?? null,
            baselineOutput: e.baseline.output === null ? null : withoutNul(e.baseline.output),
            shadowOutput: e.shadow.output === null ? null : withoutNul(e.shadow.output),
            similarity: c.similarity,
            baselineRefusal: e.baseline.refusal,
            shadowRefusal: e.shadow.refusal,
          });
        }
      }
    }
    return {
      arms: [...arms.values()].map(({ key, stats }) => ({
        ...key,
        requests: stats.requests,
        errors: stats.errors,
        refusals: stats.refusals,
        silentFailures: stats.silentFailures,
        feedback: stats.feedback,
        thumbsDown: stats.thumbsDown,
        tokensN: stats.outputTokens.n,
        tokensSum: stats.outputTokens.sum,
        tokensSumSq: stats.outputTokens.sumSq,
        costN: stats.cost.n,
        costSum: stats.cost.sum,
        costSumSq: stats.cost.sumSq,
        usefulAnswers: stats.usefulAnswers,
        latencyCounts: trimTrailingZeros(stats.latency.counts),
        ttftCounts: trimTrailingZeros(stats.ttft.counts),
      })),
      pairs: [...pairs.values()],
      samples,
      comparable,
      clusters: [...clusters.values()].map(({ key, stats }) => ({
        ...key,
        requests: stats.requests,
        errors: stats.errors,
        refusals: stats.refusals,
        silentFailures: stats.silentFailures,
        feedback: stats.feedback,
        thumbsDown: stats.thumbsDown,
        tokensN: stats.outputTokens.n,
        tokensSum: stats.outputTokens.sum,
        costN: stats.cost.n,
        costSum: stats.cost.sum,
      })),
      feedbackMinutes: [...minutes.values()],
    };
  }

  private bucket(at: string): Date {
    const ms = Date.parse(at);
    const width = this.options.bucketSeconds * 1000;
    return new Date(Math.floor((Number.isFinite(ms) ? ms : Date.now()) / width) * width);
  }
}

type ArmCountersLike = Omit<ArmContribution, 'rolloutId' | 'revision' | 'versionId' | 'role' | 'bucketStart'>;
type ClusterCountersLike = Omit<
  ClusterContribution,
  'rolloutId' | 'revision' | 'versionId' | 'role' | 'cluster'
>;

function minuteOf(at: string): Date {
  const ms = Date.parse(at);
  return new Date(
    Math.floor((Number.isFinite(ms) ? ms : Date.now()) / FEEDBACK_MINUTE_MS) * FEEDBACK_MINUTE_MS,
  );
}

function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
}

function trimTrailingZeros(counts: readonly number[]): number[] {
  let end = counts.length;
  while (end > 0 && counts[end - 1] === 0) end--;
  return counts.slice(0, end);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The event with its dedup key; null when valid but not analysable; 'invalid' when not ours. */
function parse(e: ReceivedEvent): Parsed | null | 'invalid' {
  const p = parseKnown(e);
  if (p === null || p === 'invalid') return p;
  // Ids are database uuids; anything else cannot be stored (and must not poison the batch).
  if (!UUID.test(p.event.rolloutId)) return 'invalid';
  if (p.kind === 'pair')
    return UUID.test(p.event.baseline.versionId) && UUID.test(p.event.shadow.versionId) ? p : 'invalid';
  return UUID.test(p.event.versionId) ? p : 'invalid';
}

function parseKnown(e: ReceivedEvent): Parsed | null | 'invalid' {
  switch (e.topic) {
    case TOPICS.outcomes: {
      const r = outcomeEventSchema.safeParse(e.value);
      if (!r.success) return 'invalid';
      const o = r.data;
      if (o.rolloutId === null || (o.errorClass !== null && NOT_THE_MODELS_DOING.has(o.errorClass)))
        return null;
      // Not a random sample of users: a forced version (debugging) or a cohort rule (internal users
      // first). The guardrails compare the randomly split arms only.
      if (o.forced === true || o.cohort === true) return null;
      return {
        kind: 'outcome',
        key: { kind: 'outcome', requestId: o.requestId, role: o.role },
        event: { ...o, rolloutId: o.rolloutId },
      };
    }
    case TOPICS.pairs: {
      const r = pairEventSchema.safeParse(e.value);
      if (!r.success) return 'invalid';
      const p = r.data;
      if (p.rolloutId === null) return null;
      return {
        kind: 'pair',
        key: { kind: 'pair', requestId: p.requestId, role: '' },
        event: { ...p, rolloutId: p.rolloutId },
      };
    }
    case TOPICS.feedback: {
      const r = feedbackEventSchema.safeParse(e.value);
      if (!r.success) return 'invalid';
      const f = r.data;
      if (f.rolloutId === null) return null;
      return {
        kind: 'feedback',
        key: { kind: 'feedback', requestId: f.requestId, role: '' },
        event: { ...f, rolloutId: f.rolloutId },
      };
    }
    default:
      return 'invalid';
  }
}

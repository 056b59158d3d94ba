import { judgeMessages, parseJudgeReply, type JudgeOutcome } from '@aviary/domain';
import { emptyPairCounters, type EvidenceStore } from '@aviary/persistence';
import type { ComparablePair } from '../ingest/evidence-ingestor';

export interface JudgeSettings {
  /** OpenAI-compatible base URL of the judge model (…/v1). */
  readonly url: string;
  readonly model: string;
  readonly apiKey: string | null;
  /** Share of comparable shadow pairs that are judged. */
  readonly sampleRate: number;
  /** Judge calls per second, at most (one at a time). */
  readonly ratePerSecond: number;
  /** Judge calls per rollout, at most: the budget. */
  readonly maxPerRollout: number;
  readonly timeoutMs: number;
  /** Pairs waiting for the judge, at most; more are skipped (counted). */
  readonly queueSize: number;
}

/** A shadow pair where both sides answered, as the ingestor hands it over. */
export type JudgeJob = ComparablePair;

export interface JudgeStats {
  readonly offered: number;
  readonly skippedQueueFull: number;
  readonly skippedBudget: number;
  readonly judged: number;
  readonly errors: number;
}

type Log = (level: 'debug' | 'info' | 'warn', message: string) => void;

/**
 * Asks the judge model about a sample of shadow pairs, one call at a time, paced to
 * `ratePerSecond`, within a per-rollout budget, and records each verdict once (dedup key per request
 * id). The judge is optional evidence: when it is slow or down, pairs wait in a bounded queue and
 * are then skipped; nothing else waits for it.
 */
export class JudgeWorker {
  private readonly queue: JudgeJob[] = [];
  private readonly spent = new Map<string, number>();
  private stats_: JudgeStats = { offered: 0, skippedQueueFull: 0, skippedBudget: 0, judged: 0, errors: 0 };
  private running: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private closed = false;
  private failing = false;

  constructor(
    private readonly settings: JudgeSettings,
    private readonly store: EvidenceStore,
    private readonly log: Log = () => undefined,
    private readonly random: () => number = Math.random,
  ) {}

  /** A comparable pair; sampled here. */
  offer(job: JudgeJob): void {
    if (this.closed || this.random() >= this.settings.sampleRate) return;
    this.stats_ = { ...this.stats_, offered: this.stats_.offered + 1 };
    if (this.queue.length >= this.settings.queueSize) {
      this.stats_ = { ...this.stats_, skippedQueueFull: this.stats_.skippedQueueFull + 1 };
      return;
    }
    this.queue.push(job);
    this.running ??= this.loop().finally(() => (this.running = null));
    this.wake?.();
  }

  stats(): JudgeStats {
    return this.stats_;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    this.wake?.();
    await this.running;
  }

  private async loop(): Promise<void> {
    const gapMs = 1000 / this.settings.ratePerSecond;
    while (!this.closed) {
      const job = this.queue.shift();
      if (!job) return;
      const started = Date.now();
      if (await this.withinBudget(job.rolloutId)) await this.judge(job);
      const wait = gapMs - (Date.now() - started);
      if (wait > 0) await new Promise<void>((r) => ((this.wake = r), setTimeout(r, wait)));
      this.wake = null;
    }
  }

  private async withinBudget(rolloutId: string): Promise<boolean> {
    let spent = this.spent.get(rolloutId);
    if (spent === undefined) spent = await this.store.judgeCalls(rolloutId).catch(() => 0);
    if (spent >= this.settings.maxPerRollout) {
      this.spent.set(rolloutId, spent);
      this.stats_ = { ...this.stats_, skippedBudget: this.stats_.skippedBudget + 1 };
      return false;
    }
    this.spent.set(rolloutId, spent + 1);
    return true;
  }

  private async judge(job: JudgeJob): Promise<void> {
    const shadowFirst = this.random() < 0.5;
    let outcome: JudgeOutcome | null = null;
    try {
      const text = await this.ask(judgeMessages(job.prompt, job.baseline, job.shadow, shadowFirst));
      outcome = parseJudgeReply(text, shadowFirst);
      if (outcome === null) this.log('debug', `the judge's reply for ${job.requestId} had no verdict`);
      if (this.failing) this.log('info', 'the judge answers again');
      this.failing = false;
    } catch (err) {
      if (!this.failing)
        this.log(
          'warn',
          `the judge failed (pairs are skipped meanwhile): ${err instanceof Error ? err.message : String(err)}`,
        );
      this.failing = true;
    }
    const counters = {
      ...emptyPairCounters(),
      judgeWins: outcome === 'win' ? 1 : 0,
      judgeTies: outcome === 'tie' ? 1 : 0,
      judgeLosses: outcome === 'loss' ? 1 : 0,
      judgeErrors: outcome === null ? 1 : 0,
    };
    try {
      await this.store.applyOnce([{ kind: 'judge', requestId: job.requestId, role: '' }], () => ({
        arms: [],
        pairs: [
          { rolloutId: job.rolloutId, revision: job.revision, bucketStart: job.bucketStart, ...counters },
        ],
        samples: [],
      }));
      this.stats_ =
        outcome === null
          ? { ...this.stats_, errors: this.stats_.errors + 1 }
          : { ...this.stats_, judged: this.stats_.judged + 1 };
    } catch (err) {
      this.log(
        'warn',
        `could not record a judge verdict: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  private async ask(messages: ReturnType<typeof judgeMessages>): Promise<string> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.settings.apiKey) headers['authorization'] = `Bearer ${this.settings.apiKey}`;
    const res = await fetch(`${this.settings.url.replace(/\/+$/, '')}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: this.settings.model, messages, temperature: 0, max_tokens: 200 }),
      signal: AbortSignal.timeout(this.settings.timeoutMs),
    });
    if (!res.ok) throw new Error(`judge answered HTTP ${res.status}`);
    const body = (await res.json()) as { choices?: { message?: { content?: unknown } }[] };
    const content = body.choices?.[0]?.message?.content;
    if (typeof content !== 'string') throw new Error('judge answer has no message content');
    return content;
  }
}

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TOPICS } from '@aviary/contracts';
import { MAX_FEEDBACK_WINDOW_SECONDS, type EventSubscriber, type ReceivedEvent } from '@aviary/domain';
import {
  DeadLetterStore,
  EvidenceStore,
  isDatabaseUnavailable,
  type PrismaClient,
} from '@aviary/persistence';
import { EvidenceIngestor, type IngestResult } from './ingest/evidence-ingestor';
import { JudgeWorker, type JudgeSettings, type JudgeStats } from './judge/judge-worker';

export type Log = (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;

export interface AnalyzerOptions {
  readonly bucketSeconds: number;
  readonly dedupHours: number;
  readonly pairSamplesPerRollout: number;
  /** Serve /healthz, /readyz, /metrics here; null: no HTTP server (all-in-one). */
  readonly http: { readonly port: number; readonly host: string } | null;
  /** Attempts per batch before giving it back (Kafka redelivers it; the in-process bus drops it). */
  readonly attempts?: number;
  readonly retryBaseMs?: number;
  readonly pruneIntervalMs?: number;
  /** The LLM judge for shadow pairs; null: no judge (the shadow gate then relies on the guardrails). */
  readonly judge?: JudgeSettings | null;
  /** How long parked (dead-lettered) events are kept. Default 14 days. */
  readonly deadLetterHours?: number;
}

export interface AnalyzerDeps {
  readonly prisma: PrismaClient;
  readonly subscriber: EventSubscriber;
  readonly log?: Log;
}

export interface AnalyzerStats {
  readonly batches: number;
  readonly counted: number;
  readonly duplicates: number;
  readonly invalid: number;
  readonly ignored: number;
  readonly failedBatches: number;
  /** Events that could not be stored even alone: parked in analysis_dead_letters. */
  readonly deadLettered: number;
  readonly lastBatchAt: Date | null;
  readonly lastError: string | null;
}

export interface RunningAnalyzer {
  readonly url: string | null;
  readonly store: EvidenceStore;
  readonly registry: Registry;
  stats(): AnalyzerStats;
  judgeStats(): JudgeStats | null;
  close(): Promise<void>;
}

/** Longer than the longest feedback window a rollout may set (MAX_FEEDBACK_WINDOW_SECONDS). */
const FEEDBACK_MINUTES_KEPT_MS = (MAX_FEEDBACK_WINDOW_SECONDS + 24 * 3600) * 1000;

export const EVIDENCE_TOPICS = [TOPICS.outcomes, TOPICS.pairs, TOPICS.feedback] as const;

/**
 * The analyzer's ingest side: reads the router's evidence a batch at a time and adds it to the
 * evidence tables in one transaction per batch, once per event. Judging steps happens where rollouts
 * are decided (the control plane's guardrail analysis reads these tables).
 *
 * Failures: a batch that cannot be written (database down) is retried with backoff; after `attempts`
 * it is handed back — Kafka redelivers it from the last committed offset, nothing is lost; dedup
 * keys make the retry count once.
 */
export async function startAnalyzer(options: AnalyzerOptions, deps: AnalyzerDeps): Promise<RunningAnalyzer> {
  const log: Log = deps.log ?? (() => undefined);
  const store = new EvidenceStore(deps.prisma);
  const judge = options.judge
    ? new JudgeWorker(options.judge, store, (level, m) => log(level, `judge: ${m}`))
    : null;
  const ingestor = new EvidenceIngestor(
    store,
    {
      bucketSeconds: options.bucketSeconds,
      samplesPerBatch: 2,
      ...(judge ? { onComparablePair: (pair) => judge.offer(pair) } : {}),
    },
    (level, m) => log(level, m),
  );
  const registry = new Registry();
  const events = new Counter({
    name: 'aviary_analyzer_events_total',
    help: 'Evidence events read, by result (counted, duplicate, invalid, ignored)',
    labelNames: ['result'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'aviary_analyzer_batch_failures_total',
    help: 'Batch write attempts that failed (retried, then handed back for redelivery)',
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'aviary_analyzer_batch_seconds',
    help: 'Time to write one batch of evidence',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'aviary_analyzer_judge_calls',
    help: 'LLM judge activity since start, by result (judged, errors, skipped_queue_full, skipped_budget)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const j = judge?.stats();
      if (!j) return;
      this.set({ result: 'judged' }, j.judged);
      this.set({ result: 'errors' }, j.errors);
      this.set({ result: 'skipped_queue_full' }, j.skippedQueueFull);
      this.set({ result: 'skipped_budget' }, j.skippedBudget);
    },
  });
  const deadLetters = new Counter({
    name: 'aviary_analyzer_dead_letters_total',
    help: 'Evidence events that could not be stored even alone, parked in analysis_dead_letters',
    registers: [registry],
  });
  const lastBatch = new Gauge({
    name: 'aviary_analyzer_last_batch_timestamp_seconds',
    help: 'When a batch was last written',
    registers: [registry],
  });

  let stats: AnalyzerStats = {
    batches: 0,
    counted: 0,
    duplicates: 0,
    invalid: 0,
    ignored: 0,
    failedBatches: 0,
    deadLettered: 0,
    lastBatchAt: null,
    lastError: null,
  };
  let closing = false;
  const attempts = options.attempts ?? 5;
  const retryBaseMs = options.retryBaseMs ?? 200;

  const parked = new DeadLetterStore(deps.prisma);

  const record = (r: IngestResult) => {
    events.inc({ result: 'counted' }, r.counted);
    events.inc({ result: 'duplicate' }, r.duplicates);
    events.inc({ result: 'invalid' }, r.invalid);
    events.inc({ result: 'ignored' }, r.ignored);
    lastBatch.setToCurrentTime();
    if (stats.lastError) log('info', 'writing evidence works again');
    stats = {
      ...stats,
      batches: stats.batches + 1,
      counted: stats.counted + r.counted,
      duplicates: stats.duplicates + r.duplicates,
      invalid: stats.invalid + r.invalid,
      ignored: stats.ignored + r.ignored,
      lastBatchAt: new Date(),
      lastError: null,
    };
  };

  /**
   * A batch the database keeps refusing although it is reachable holds an event that cannot be
   * stored (a poison event). Stored one at a time, every other event counts; the ones that still
   * fail are parked, so the partition moves on instead of being redelivered forever. False when the
   * database went away meanwhile: then the batch is handed back whole (dedup keys make the events
   * already stored here count once).
   */
  const isolate = async (batch: readonly ReceivedEvent[]): Promise<boolean> => {
    const letters: { topic: string; value: unknown; error: string }[] = [];
    for (const event of batch) {
      try {
        record(await ingestor.ingest([event]));
      } catch (err) {
        if (isDatabaseUnavailable(err)) return false;
        letters.push({ topic: event.topic, value: event.value, error: errorText(err) });
      }
    }
    try {
      await parked.park(letters);
    } catch {
      return false;
    }
    deadLetters.inc(letters.length);
    stats = { ...stats, deadLettered: stats.deadLettered + letters.length };
    log(
      'error',
      `parked ${letters.length} evidence event(s) that cannot be stored in analysis_dead_letters (first: ${letters[0]?.error ?? 'none'}); the rest of the batch was counted`,
    );
    return true;
  };

  const handle = async (batch: readonly ReceivedEvent[]): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const stop = duration.startTimer();
      try {
        const r: IngestResult = await ingestor.ingest(batch);
        stop();
        record(r);
        return;
      } catch (err) {
        failures.inc();
        const message = errorText(err);
        if (stats.lastError === null)
          log('warn', `could not write a batch of ${batch.length} event(s): ${message}`);
        stats = { ...stats, lastError: message };
        if (attempt >= attempts || closing) {
          if (!closing && !isDatabaseUnavailable(err) && (await isolate(batch))) return;
          stats = { ...stats, failedBatches: stats.failedBatches + 1 };
          throw err;
        }
        await sleep(Math.min(5_000, retryBaseMs * 2 ** (attempt - 1)));
      }
    }
  };
  await deps.subscriber.subscribeBatches(EVIDENCE_TOPICS, handle);

  const prune = async () => {
    try {
      const seen = await store.pruneSeen(new Date(Date.now() - options.dedupHours * 3_600_000));
      const samples = await store.prunePairSamples(options.pairSamplesPerRollout);
      await parked.prune(new Date(Date.now() - (options.deadLetterHours ?? 14 * 24) * 3_600_000));
      // Ratings by serving minute are only read inside a feedback window (at most a week).
      const minutes = await store.pruneFeedbackMinutes(new Date(Date.now() - FEEDBACK_MINUTES_KEPT_MS));
      if (seen + samples + minutes > 0)
        log('debug', `pruned ${seen} dedup key(s), ${samples} pair sample(s), ${minutes} feedback minute(s)`);
    } catch (err) {
      log(
        'warn',
        `pruning evidence failed (will retry): ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };
  const pruneTimer = setInterval(() => void prune(), options.pruneIntervalMs ?? 60_000);
  pruneTimer.unref();

  let server: Server | null = null;
  let url: string | null = null;
  if (options.http) {
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?', 1)[0];
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(text);
      };
      if (path === '/healthz') return send(200, { status: 'ok' });
      if (path === '/readyz') {
        // Parked events do not stop the analyzer (it is ready) but someone should look at them.
        const ok = stats.lastError === null;
        const status = !ok ? 'failing' : stats.deadLettered > 0 ? 'degraded' : 'ok';
        return send(ok ? 200 : 503, { status, ...stats });
      }
      if (path === '/metrics') {
        registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': registry.contentType });
            res.end(body);
          },
          () => send(500, { status: 'error' }),
        );
        return;
      }
      send(404, { error: `unknown endpoint ${req.method} ${path}` });
    });
    const s = server;
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(options.http?.port, options.http?.host, () => resolve());
    });
    const address = s.address() as AddressInfo;
    url = `http://${options.http.host === '0.0.0.0' ? '127.0.0.1' : options.http.host}:${address.port}`;
  }

  return {
    url,
    store,
    registry,
    stats: () => stats,
    judgeStats: () => judge?.stats() ?? null,
    close: async () => {
      closing = true;
      clearInterval(pruneTimer);
      await deps.subscriber.close();
      await judge?.close();
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
    },
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

#!/usr/bin/env node
// Analyzer ingest throughput: how many evidence events per second one analyzer process stores, side by
// side in one run with the floor — a Kafka consumer (the same kafkajs subscriber, same batches) that
// does nothing with the events. Writes its section of docs/benchmarks.md.
//
//   npm run bench:analyzer                         # npm run build, then 20,000 simulated requests (~61k events)
//   node bench/analyzer-bench.mjs --requests 5000 --rounds 1 --no-write
//
// The events are what routers send while a rollout shadows everything: per user request an outcome for
// the baseline and one for the shadow copy, a pair, and feedback for 5% of requests; 20 rollouts, keyed
// by rollout over 6 partitions. They are produced once to this run's own topics; each measured consumer
// is a new consumer group reading them from the beginning. Kafka and PostgreSQL come from
// scripts/services (a fresh database per analyzer round), on this same machine.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSection } from './lib/sections.mjs';
import { freshDatabase, serviceAddress } from './lib/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const REQUESTS = Math.max(100, Number(args.requests));
const ROUNDS = Math.max(1, Number(args.rounds));
const ROLLOUTS = 20;
const PARTITIONS = 6;
const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

const dist = (p) => {
  const file = join(root, 'dist', p);
  if (!existsSync(file)) throw new Error(`${p} is missing: run \`npm run build\` first`);
  return require(file);
};
const { startAnalyzer, EVIDENCE_TOPICS } = dist('apps/analyzer/src/analyzer.js');
const { KafkaEventPublisher, KafkaEventSubscriber, ensureTopics } = dist('libs/kafka/src/index.js');
const { applyMigrations, createPrismaClient, resolveMigrationsDir } = dist('libs/persistence/src/index.js');

const cleanups = [];
const runId = randomUUID().slice(0, 8);
const benchTopic = (topic) => `bench-${runId}.${topic}`;
const realTopic = (topic) => topic.replace(`bench-${runId}.`, '');

/** The router's evidence for REQUESTS shadowed requests. */
function* evidence() {
  const rollouts = Array.from({ length: ROLLOUTS }, () => ({
    id: randomUUID(),
    baseline: randomUUID(),
    candidate: randomUUID(),
  }));
  const at = new Date().toISOString();
  for (let i = 0; i < REQUESTS; i++) {
    const r = rollouts[i % ROLLOUTS];
    const requestId = randomUUID();
    const refusal = i % 25 === 0;
    const outcome = (role, versionId, latencyMs) => ({
      schema: 'aviary.outcome.v1',
      requestId,
      at,
      model: `model-${i % ROLLOUTS}`,
      versionId,
      versionLabel: role === 'baseline' ? 'v1' : 'v2',
      role,
      rolloutId: r.id,
      revision: 2,
      stickinessBucket: i % 100,
      stream: false,
      status: 200,
      errorClass: null,
      fellBack: false,
      refusal: role === 'shadow' ? refusal || i % 19 === 0 : refusal,
      empty: false,
      invalidJson: false,
      jsonRequested: false,
      latencyMs,
      ttftMs: latencyMs / 3,
      promptTokens: 40,
      completionTokens: 120 + (i % 50),
      outputChars: 600,
    });
    yield { topic: 'aviary.outcomes.v1', key: r.id, value: outcome('baseline', r.baseline, 300 + (i % 200)) };
    yield { topic: 'aviary.outcomes.v1', key: r.id, value: outcome('shadow', r.candidate, 320 + (i % 220)) };
    const side = (versionId, label, output) => ({
      versionId,
      versionLabel: label,
      status: 200,
      errorClass: null,
      output,
      refusal: false,
      empty: false,
      invalidJson: false,
      latencyMs: 300,
      completionTokens: 120,
    });
    yield {
      topic: 'aviary.pairs.v1',
      key: r.id,
      value: {
        schema: 'aviary.pair.v1',
        requestId,
        at,
        model: `model-${i % ROLLOUTS}`,
        rolloutId: r.id,
        revision: 2,
        jsonRequested: false,
        prompt: [{ role: 'user', content: `question ${i}: how do I reset my password?` }],
        baseline: side(
          r.baseline,
          'v1',
          `Answer ${i}: open settings, choose security, then reset the password.`,
        ),
        shadow: side(
          r.candidate,
          'v2',
          `Answer ${i}: go to settings, pick security and reset your password.`,
        ),
      },
    };
    if (i % 20 === 0)
      yield {
        topic: 'aviary.feedback.v1',
        key: r.id,
        value: {
          schema: 'aviary.feedback.v1',
          requestId,
          at,
          model: `model-${i % ROLLOUTS}`,
          versionId: r.baseline,
          role: 'baseline',
          rolloutId: r.id,
          revision: 2,
          rating: i % 40 === 0 ? 'down' : 'up',
          comment: null,
        },
      };
  }
}

/** Reads the bench topics as if they were the real ones (the analyzer subscribes to fixed names). */
class RenamingSubscriber {
  constructor(inner, onHandled) {
    this.inner = inner;
    this.onHandled = onHandled;
  }
  subscribe() {
    throw new Error('not used');
  }
  subscribeBatches(topics, handler) {
    return this.inner.subscribeBatches(topics.map(benchTopic), async (events) => {
      await handler(events.map((e) => ({ ...e, topic: realTopic(e.topic) })));
      this.onHandled(events.length);
    });
  }
  close() {
    return this.inner.close();
  }
}

async function consume(brokers, total, start) {
  let handled = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  const subscriber = new KafkaEventSubscriber({
    brokers,
    clientId: 'aviary-bench',
    groupId: `bench-${runId}-${randomUUID().slice(0, 8)}`,
    fromBeginning: true,
    maxWaitTimeMs: 100,
  });
  const counting = new RenamingSubscriber(subscriber, (n) => {
    handled += n;
    if (handled >= total) resolveDone();
  });
  const cpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const stop = await start(counting);
  await Promise.race([
    done,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`only ${handled} of ${total} events in 300 s`)), 300_000),
    ),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  await stop();
  return {
    seconds,
    eventsPerSecond: total / seconds,
    cpuMsPer1k: ((cpu.user + cpu.system) / 1000 / total) * 1000,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const kafka = serviceAddress('kafka');
  const pg = serviceAddress('postgres');
  if (kafka.error || pg.error) throw new Error(`services: ${kafka.error ?? ''} ${pg.error ?? ''}`);
  const brokers = kafka.url.split(',');

  log(`producing the evidence of ${REQUESTS} shadowed requests to ${PARTITIONS}-partition bench topics`);
  await ensureTopics(brokers, EVIDENCE_TOPICS.map(benchTopic), PARTITIONS);
  const publisher = new KafkaEventPublisher({
    brokers,
    clientId: 'aviary-bench-producer',
    maxBuffered: 10_000_000,
    lingerMs: 20,
  });
  let total = 0;
  for (const e of evidence()) {
    publisher.publish(benchTopic(e.topic), e.key, e.value);
    total += 1;
  }
  while (publisher.stats().published < total) await new Promise((r) => setTimeout(r, 100));
  await publisher.close();
  log(`${total} events produced`);

  const rows = { floor: [], analyzer: [] };
  let lastStats = null;
  for (let round = 1; round <= ROUNDS; round++) {
    const floor = await consume(brokers, total, async (subscriber) => {
      await subscriber.subscribeBatches(EVIDENCE_TOPICS, async () => {});
      return () => subscriber.close();
    });
    rows.floor.push(floor);
    log(`round ${round}: consumer floor ${Math.round(floor.eventsPerSecond)} events/s`);

    const db = await freshDatabase(pg.url, 'aviary_bench_analyzer', cleanups);
    const client = createPrismaClient({ url: db.url, poolMax: 5 });
    await applyMigrations(client.pool, { migrationsDir: resolveMigrationsDir(), log: () => {} });
    const analyzerRow = await consume(brokers, total, async (subscriber) => {
      const analyzer = await startAnalyzer(
        { bucketSeconds: 60, dedupHours: 72, pairSamplesPerRollout: 20, http: null, judge: null },
        {
          prisma: client.prisma,
          subscriber,
          log: (level, m) => level !== 'debug' && level !== 'info' && log(m),
        },
      );
      return async () => {
        lastStats = analyzer.stats();
        await analyzer.close();
      };
    });
    await client.close();
    rows.analyzer.push({ ...analyzerRow, batches: lastStats.batches, counted: lastStats.counted });
    log(
      `round ${round}: analyzer ${Math.round(analyzerRow.eventsPerSecond)} events/s (${lastStats.batches} batches, ${lastStats.counted} counted)`,
    );
  }

  const f = median(rows.floor.map((r) => r.eventsPerSecond));
  const a = median(rows.analyzer.map((r) => r.eventsPerSecond));
  const perRequestShadow = total / REQUESTS;
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  const lines = [
    '## Analyzer ingest throughput',
    '',
    `Command: \`npm run bench:analyzer\` (this run: ${REQUESTS.toLocaleString('en-US')} requests, ${ROUNDS} rounds; ${new Date().toISOString().slice(0, 16)}Z, ${require('node:os').cpus().length} CPUs, Kafka and PostgreSQL on the same machine).`,
    '',
    `The evidence of ${fmt(REQUESTS)} user requests under a full shadow — an outcome for the baseline and one for the shadow copy, a pair, feedback for 5% — ${fmt(total)} events over ${ROLLOUTS} rollouts and ${PARTITIONS} partitions, produced once, then read from the beginning by a new consumer group per measurement. "Floor": the same kafkajs subscriber and batches with a handler that does nothing. "Analyzer": \`startAnalyzer\` (zod validation, dedup keys, counters and time buckets, pair samples; one PostgreSQL transaction per batch). Median of the rounds; time from joining the group to the last event handled.`,
    '',
    '| consumer | events/s (median) | per round | bench-process CPU ms per 1k events | vs floor |',
    '| :-- | --: | :-- | --: | --: |',
    `| floor: kafkajs consumer, no-op handler | ${fmt(f)} | ${rows.floor.map((r) => fmt(r.eventsPerSecond)).join(' / ')} | ${median(rows.floor.map((r) => r.cpuMsPer1k)).toFixed(0)} | — |`,
    `| analyzer (PostgreSQL) | ${fmt(a)} | ${rows.analyzer.map((r) => fmt(r.eventsPerSecond)).join(' / ')} | ${median(rows.analyzer.map((r) => r.cpuMsPer1k)).toFixed(0)} | ${(a / f).toFixed(2)}x |`,
    '',
    `- At ${perRequestShadow.toFixed(2)} events per request (full shadow), one analyzer process keeps up with about **${fmt(a / perRequestShadow)} router requests/s**; without a shadow (one outcome per request, plus feedback) about ${fmt(a / 1.05)}. The analyzer's CPU is the bench process's; PostgreSQL's is not counted.`,
    `- Every event counted once: the last round counted ${fmt(lastStats.counted)} of ${fmt(total)} events in ${fmt(lastStats.batches)} batches.`,
  ];
  console.log(lines.join('\n'));
  if (!args['no-write']) {
    writeSection(join(root, 'docs/benchmarks.md'), 'analyzer', lines.join('\n'));
    log('wrote the analyzer section of docs/benchmarks.md');
  }
}

main()
  .catch((err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => {});
    setTimeout(() => process.exit(), 500).unref();
  });

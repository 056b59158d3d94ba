#!/usr/bin/env node
// The guardrail statistics on simulated real traffic, in full: every scenario of
// GUARDRAIL_SCENARIOS (libs/domain/src/guardrails/rollout-simulation.ts) through whole rollouts of
// the default plan, judged by today's statistics ('rollout-wide') and by the ones before
// ('legacy'), seeded. Prints the table and writes it into docs/guardrail-statistics.md (its
// section `guardrail-simulation`). The fast subset runs in `npm test`
// (rollout-simulation.spec.ts).
//
//   npm run sim:guardrails                      # npm run build, then the whole suite
//   node bench/guardrail-simulation.mjs --runs 40 --only aa-realistic,harm-refusalRate-1.5 --no-write
//
// --runs sets the A/A runs (harm scenarios get 2/3 of them, the high-traffic one a fifth, the legacy
// policy half); --workers the worker threads (default 2).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { writeSection } from './lib/sections.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const domainPath = join(root, 'dist/libs/domain/src/index.js');
const SEED = 20261201;

if (!isMainThread) {
  const domain = await import(domainPath);
  const spec = domain.GUARDRAIL_SCENARIOS.find((s) => s.id === workerData.id);
  const started = Date.now();
  const summary = domain.simulateScenario(domain.scenarioFor(spec, workerData.policy), workerData.runs, SEED);
  parentPort.postMessage({ ...summary, label: spec.label, seconds: (Date.now() - started) / 1000 });
} else {
  await main();
}

async function main() {
  const { values: args } = parseArgs({
    options: {
      runs: { type: 'string', default: '300' },
      workers: { type: 'string', default: process.env.AVIARY_SIM_WORKERS ?? '2' },
      only: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  if (!existsSync(domainPath)) throw new Error('dist/ is missing: run `npm run build` first');
  const domain = await import(domainPath);
  const runsAA = Math.max(1, Number(args.runs));
  const only = args.only ? new Set(args.only.split(',')) : null;
  const tasks = [];
  for (const spec of domain.GUARDRAIL_SCENARIOS) {
    if (only && !only.has(spec.id)) continue;
    const base =
      spec.id === 'aa-high-traffic'
        ? Math.ceil(runsAA / 5)
        : spec.harm
          ? Math.ceil((2 * runsAA) / 3)
          : runsAA;
    for (const policy of ['rollout-wide', 'legacy'])
      tasks.push({ id: spec.id, policy, runs: policy === 'legacy' ? Math.ceil(base / 2) : base });
  }
  const log = (m) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const started = Date.now();
  const results = [];
  let next = 0;
  const workers = Math.max(1, Number(args.workers));
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++];
        const r = await new Promise((resolve, reject) => {
          const w = new Worker(fileURLToPath(import.meta.url), { workerData: task });
          w.once('message', resolve);
          w.once('error', reject);
        });
        results.push(r);
        log(`${task.id} ${task.policy}: ${r.runs} runs in ${r.seconds.toFixed(0)} s`);
      }
    }),
  );
  const wall = (Date.now() - started) / 1000;
  const order = (r) => [
    domain.GUARDRAIL_SCENARIOS.findIndex((s) => s.id === r.scenario),
    r.policy === 'legacy' ? 1 : 0,
  ];
  results.sort((a, b) => order(a)[0] - order(b)[0] || order(a)[1] - order(b)[1]);
  const body = render(results, { wall, runsAA, workers });
  process.stdout.write(`${body}\n`);
  if (!args['no-write'] && !only)
    writeSection(join(root, 'docs/guardrail-statistics.md'), 'guardrail-simulation', body);
}

function render(results, { wall, runsAA, workers }) {
  const pct = (p) =>
    `${(100 * p.share).toFixed(1)}% [${(100 * p.lower).toFixed(1)}, ${(100 * p.upper).toFixed(1)}]`;
  const hours = (s) => (s === null ? '–' : `${Math.round(s / 3600)} h`);
  const count = (n) => (n === null ? '–' : Math.round(n).toLocaleString('en-US'));
  const policy = (p) => (p === 'legacy' ? 'before' : 'now');
  const aa = results.filter((r) => r.harm === null);
  const harms = results.filter((r) => r.harm !== null);
  const lines = [
    `Seeded (${SEED}), ${runsAA} runs per A/A scenario with today's statistics (2/3 as many per harm, a fifth at 2M requests / 48 h, half as many with the statistics before); [95% Wilson interval]. Wall time ${Math.round(wall / 60)} min on ${workers} worker thread(s).`,
    '',
    '**Identical candidates (A/A).** Any rollback is a false one. "Completed" is the whole default plan, to Healthy.',
    '',
    '| scenario | statistics | runs | rolled back (false) | by a guardrail | by the deadline | reached 100% | completed | stuck | median time to complete |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...aa.map(
      (r) =>
        `| ${r.label} | ${policy(r.policy)} | ${r.runs} | ${pct(r.rolledBack)} | ${pct(r.rolledBackByGuardrails)} | ${pct(r.rolledBackByDeadline)} | ${pct(r.reachedFull)} | ${pct(r.completed)} | ${pct(r.stuck)} | ${hours(r.medianSecondsToComplete)} |`,
    ),
    '',
    `**Harmful candidates** (one guardrail's true relative change at 1.5x or 2.5x its tolerance, realistic traffic). "Promoted to 100%" is reaching the 100% step; "rolled back in plan time" is a rollback before the plan's minimum total (${hours(harms[0]?.planSeconds ?? 0)}).`,
    '',
    '| scenario | statistics | runs | promoted to 100% | rolled back (detected) | by a guardrail | in plan time | stuck | median time to rollback | median requests to rollback |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...harms.map(
      (r) =>
        `| ${r.label} | ${policy(r.policy)} | ${r.runs} | ${pct(r.reachedFull)} | ${pct(r.rolledBack)} | ${pct(r.rolledBackByGuardrails)} | ${pct(r.rolledBackInPlanTime)} | ${pct(r.stuck)} | ${hours(r.medianSecondsToRollback)} | ${count(r.medianRequestsToRollback)} |`,
    ),
  ];
  return lines.join('\n');
}

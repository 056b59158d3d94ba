#!/usr/bin/env node
// Rollback latency: from `aviary rollback` returning to a router serving only the baseline, with the
// control plane's built-in flag source and with a real unleash-server, each polled at the router's
// default refresh (500 ms). Repeated runs; p50 / p90 / max. Writes its section of docs/benchmarks.md.
//
//   npm run bench:rollback                      # npm run build, then 20 runs per flag source (~1 minute)
//   node bench/rollback-bench.mjs --runs 5 --no-write
//
// What runs: PostgreSQL (scripts/services/postgres.sh, a fresh database per flag source), unleash-server
// (scripts/services/unleash.sh; its row is skipped when it cannot start), two demo model servers, the
// control plane and a router (in this process, from dist/), and the real `aviary` CLI as a child process.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeSection } from './lib/sections.mjs';
import { freshDatabase, serviceAddress } from './lib/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { values: args } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, 'no-write': { type: 'boolean', default: false } },
});
const RUNS = Math.max(1, Number(args.runs));
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const log = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

const dist = (p) => {
  const file = join(root, 'dist', p);
  if (!existsSync(file)) throw new Error(`${p} is missing: run \`npm run build\` first`);
  return require(file);
};
const { startControlPlane } = dist('apps/control-plane/src/control-plane.js');
const { loadControlPlaneConfig } = dist('apps/control-plane/src/config/control-plane.config.js');
const { startRouter } = dist('apps/router/src/router.js');
const { loadRouterConfig } = dist('apps/router/src/config/router.config.js');
const { startDemoLlm } = dist('libs/demo-llm/src/index.js');
const { InProcessEventBus } = dist('libs/kafka/src/index.js');

const cleanups = [];

/** The real CLI, as on-call would run it; resolves when the process has exited. */
function aviaryRollback(cpUrl, model) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [join(root, 'bin/aviary.mjs'), 'rollback', model, '--reason', 'bench', '--yes'],
      {
        env: { PATH: process.env.PATH, AVIARY_URL: cpUrl, AVIARY_TOKEN: ADMIN_TOKEN },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ returnedAt: performance.now(), cliMs: performance.now() - started })
        : reject(new Error(`aviary rollback exited ${code}: ${err}`)),
    );
  });
}

/** The router API key the probes carry. */
let AUTH = {};

async function versionServed(routerUrl, model, user) {
  const res = await fetch(`${routerUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'ping' }], user }),
  });
  await res.arrayBuffer();
  return res.headers.get('x-aviary-model-version');
}

async function until(fn, what, timeoutMs = 30_000, everyMs = 5) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await fn()) return performance.now();
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const USERS = Array.from({ length: 20 }, (_, i) => `bench-user-${i}`);

async function measure(source, { pgAdmin, unleashUrl, baseline, candidate }) {
  const cp = await startControlPlane(
    loadControlPlaneConfig({
      DATABASE_URL: (await freshDatabase(pgAdmin, 'aviary_rollback_bench', cleanups)).url,
      AVIARY_CONTROL_PLANE_PORT: '0',
      AVIARY_ADMIN_TOKEN: ADMIN_TOKEN,
      AVIARY_ANALYSIS: 'manual',
      AVIARY_LOG_LEVEL: 'error',
      ...(source === 'unleash' ? { UNLEASH_URL: unleashUrl } : {}),
    }),
  );
  const api = async (method, path, body) => {
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = await res.json();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const model = `rollback-bench-${source}-${Date.now().toString(36)}`;
  await api('POST', '/api/v1/models', { name: model });
  await api('POST', `/api/v1/models/${model}/versions`, {
    label: 'v1',
    upstreamBaseUrl: baseline.url,
    upstreamModel: 'b',
  });
  await api('POST', `/api/v1/models/${model}/versions`, {
    label: 'v2',
    upstreamBaseUrl: candidate.url,
    upstreamModel: 'c',
  });
  const { token } = await api('POST', '/api/v1/tokens', { name: 'bench-router', role: 'viewer' });
  const { key } = await api('POST', '/api/v1/router-keys', { name: 'bench-probes' });
  AUTH = { authorization: `Bearer ${key}` };
  const backup = mkdtempSync(join(tmpdir(), 'aviary-rollback-bench-'));
  const bus = new InProcessEventBus({ maxBuffered: 1000 });
  const router = await startRouter(
    loadRouterConfig({
      AVIARY_ROUTER_PORT: '0',
      AVIARY_FLAGS_URL: source === 'unleash' ? `${unleashUrl}/api` : `${cp.url}/api`,
      AVIARY_FLAGS_TOKEN: token,
      AVIARY_FLAGS_BACKUP_DIR: backup,
      AVIARY_CONTROL_PLANE_URL: cp.url,
      AVIARY_CONTROL_PLANE_TOKEN: token,
      AVIARY_ACCESS_LOG: 'off',
      AVIARY_LOG_LEVEL: 'error',
    }),
    { events: bus, log: () => undefined, readyTimeoutMs: 20_000 },
  );
  const samples = [];
  try {
    for (let run = 1; run <= RUNS; run++) {
      const rollout = await api('POST', '/api/v1/rollouts', {
        model,
        candidateVersion: 'v2',
        plan: { steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 3600 }] },
        allowRolledBackCandidate: true,
        reason: 'bench',
      });
      await api('POST', `/api/v1/rollouts/${rollout.id}/start`, {});
      await until(
        async () =>
          (await Promise.all(USERS.map((u) => versionServed(router.url, model, u)))).every((v) => v === 'v2'),
        'the router to serve the candidate',
      );
      const { returnedAt, cliMs } = await aviaryRollback(cp.url, model);
      const baselineOnlyAt = await until(
        async () =>
          (await Promise.all(USERS.map((u) => versionServed(router.url, model, u)))).every((v) => v === 'v1'),
        'the router to serve only the baseline',
      );
      samples.push({ ms: baselineOnlyAt - returnedAt, cliMs });
      log(
        `${source} run ${run}/${RUNS}: baseline only ${(baselineOnlyAt - returnedAt).toFixed(0)} ms after the CLI returned (CLI took ${cliMs.toFixed(0)} ms)`,
      );
    }
  } finally {
    await router.close();
    await bus.close();
    await cp.close();
    rmSync(backup, { recursive: true, force: true });
  }
  return samples;
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

async function main() {
  if (!existsSync(join(root, 'dist/apps/cli/src/main.js'))) throw new Error('run `npm run build` first');
  log('services: PostgreSQL and unleash-server');
  const pgAdmin = serviceAddress('postgres').url;
  if (!pgAdmin) throw new Error('PostgreSQL could not be started (bash scripts/services/postgres.sh)');
  const unleashUrl = serviceAddress('unleash').url ?? null;
  const baseline = await startDemoLlm({ name: 'baseline', seed: 1 });
  const candidate = await startDemoLlm({ name: 'candidate', seed: 2 });
  const rows = [];
  try {
    for (const source of ['builtin', 'unleash']) {
      if (source === 'unleash' && !unleashUrl) {
        log('unleash-server could not be started: its row is skipped');
        continue;
      }
      log(`${source}: ${RUNS} rollouts, each rolled back with \`aviary rollback\``);
      const s = await measure(source, { pgAdmin, unleashUrl, baseline, candidate });
      const ms = s.map((x) => x.ms);
      rows.push({
        source,
        runs: s.length,
        p50: pct(ms, 50),
        p90: pct(ms, 90),
        p99: pct(ms, 99),
        max: Math.max(...ms),
        cli: pct(
          s.map((x) => x.cliMs),
          50,
        ),
      });
    }
  } finally {
    await baseline.close();
    await candidate.close();
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  }
  const f = (x) => `${Math.round(x)} ms`;
  const table = [
    '| flag source | router refresh | runs | p50 | p90 | p99 | max | `aviary rollback` itself (p50) |',
    '| :-- | --: | --: | --: | --: | --: | --: | --: |',
    ...rows.map(
      (r) =>
        `| ${r.source === 'builtin' ? 'built-in (control plane `/api/client/features`)' : 'unleash-server 8 (client API)'} | 500 ms | ${r.runs} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.max)} | ${f(r.cli)} |`,
    ),
  ].join('\n');
  const body = `## Rollback latency

From \`aviary rollback <model> --reason … --yes\` returning (the control plane has committed the rollback
and published the split) to the router serving the baseline to all of 20 users who had the candidate at
100 %, polled every 5 ms through the router. The router polls its flag source every 500 ms (the default,
\`AVIARY_FLAGS_REFRESH_MS\`), so the expected wait is about half of that plus the source's own delay. The
clock starts when the CLI process exits, as the on-call runbook asks; the CLI's own run (Node start-up
and the API call, last column) overlaps the start of that wait, so from pressing enter to baseline-only
is at most the sum of the two.

Command: \`npm run bench:rollback\` (\`node bench/rollback-bench.mjs --runs ${RUNS}\` after a build) · ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}

${table}
`;
  console.log(`\n${body}`);
  if (!args['no-write']) {
    writeSection(join(root, 'docs/benchmarks.md'), 'rollback-latency', body);
    log('wrote the rollback-latency section of docs/benchmarks.md');
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

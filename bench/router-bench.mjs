#!/usr/bin/env node
// Router benchmark: what the Aviary router adds over a direct call, side by side with a bare undici
// pass-through (the Node floor) and nginx (the C floor), in one run on this machine; then whether a slow
// or failing shadow upstream moves the primary's latency. Writes docs/benchmarks.md.
//
//   npm run bench                 # = npm run build && node bench/router-bench.mjs; ~9 minutes
//   npm run bench -- --quick      # smoke run, ~2 minutes, report to a temp file
//
// Options:
//   --quick                 smoke run (shorter everything; report to a temp file unless --out is given)
//   --no-pin                do not pin processes with taskset
//   --no-install            do not apt-get install nginx-light when nginx is missing
//   --profile/--no-profile  CPU-profile a router at the end (default: on in the full run, off with --quick)
//   --out <file>            where the markdown report goes (default docs/benchmarks.md)
//   --no-write              print only
//   --json <file>           raw results; --from-json <file> re-renders them without measuring
//   --peers <ids>           a subset, for development: undici,nginx,router-kafka,router-inproc,isolation
//   --profile-model <shadow|plain>  what the profile section measures (default shadow: shadow 1.0)
//   --profile-sink <kafka|inproc>   the profiled router's evidence sink (default kafka when a broker runs)
//   --profile-connections <n>       closed-loop connections under the profiler (default 1; 16 profiles
//                           the throughput row's load)
//   --router-node-options=<flags>  extra node flags for the routers (e.g. --trace-gc); each router's
//                           output goes to a log file named in the progress lines
//   --hold <seconds>        for development: start the upstreams, the control plane, a floor and a
//                           router (Kafka sink when a broker runs), print their addresses, pids and the
//                           router key, keep them up that long, then stop (no measurement)
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  anatomy,
  loadAutocannon,
  measure,
  measurePaced,
  measureStreams,
  pool,
  run,
  setDefaultHeaders,
  watch,
} from './lib/load.mjs';
import {
  freePort,
  hasCommand,
  killAllSync,
  sleep,
  start,
  stop,
  stopAll,
  waitHttp,
  waitLine,
} from './lib/procs.mjs';
import { summarizeProfile } from './lib/cpuprofile.mjs';
import { renderConsole, renderMarkdown } from './lib/report.mjs';
import { keptSections } from './lib/sections.mjs';
import { freshDatabase, serviceAddress } from './lib/services.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'no-install': { type: 'boolean', default: false },
    profile: { type: 'boolean' },
    'no-profile': { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-write': { type: 'boolean', default: false },
    json: { type: 'string' },
    'router-node-options': { type: 'string' },
    'from-json': { type: 'string' },
    peers: { type: 'string' },
    'profile-model': { type: 'string', default: 'shadow' },
    'profile-sink': { type: 'string' },
    'profile-connections': { type: 'string' },
    warmup: { type: 'string' },
    hold: { type: 'string' },
  },
});
const HOLD_SECONDS = args.hold === undefined ? null : Number(args.hold);
if (HOLD_SECONDS !== null && !(HOLD_SECONDS > 0)) {
  console.error(`--hold takes a number of seconds, not ${JSON.stringify(args.hold)}`);
  process.exit(2);
}
/** --peers direct,undici,nginx,router-kafka,router-inproc (for development; the report needs direct). */
const ONLY = args.peers ? new Set(['direct', ...args.peers.split(',').map((s) => s.trim())]) : null;
const want = (id) => !ONLY || ONLY.has(id);
const QUICK = args.quick;
const PROFILE = args['no-profile'] ? false : (args.profile ?? !QUICK);

/** Time budget. Every run is bounded in seconds; all traffic is on 127.0.0.1. */
const P = QUICK
  ? {
      c1Seconds: 2,
      c1Warmup: 0.5,
      pairedSeconds: 1,
      processWarmup: { router: 2, other: 0.5 },
      levels: [1, 16],
      levelSeconds: 1,
      levelWarmup: 0.3,
      isoConnections: 8,
      isoCalibrateSeconds: 1,
      isoRounds: 1,
      isoSeconds: 1.5,
      isoWarmup: 0.3,
      profileSeconds: 4,
      profileConnections: 1,
      remeasureDirect: false,
      retryBudgetSeconds: 5,
      anatomySeconds: 1,
      streamSeconds: 2,
      streamWarmup: 0.5,
      equalRateSeconds: 1,
      pairedRounds: 2,
      pairedRoundSeconds: 1,
    }
  : {
      c1Seconds: 5,
      c1Warmup: 1,
      pairedSeconds: 3,
      processWarmup: { router: 10, other: 4 },
      levels: [1, 2, 4, 8, 16, 32, 64],
      levelSeconds: 2,
      levelWarmup: 0.5,
      isoConnections: 8,
      isoCalibrateSeconds: 2,
      isoRounds: 3,
      isoSeconds: 2,
      isoWarmup: 0.5,
      profileSeconds: 8,
      profileConnections: 1,
      remeasureDirect: true,
      retryBudgetSeconds: 45,
      anatomySeconds: 2,
      streamSeconds: 5,
      streamWarmup: 1,
      equalRateSeconds: 3,
      pairedRounds: 5,
      pairedRoundSeconds: 2,
    };
/**
 * The equal-rate row: every peer paced at this many requests a second, so CPU per request compares the
 * same work at the same rate. (At concurrency 1 each peer runs at its own rate, and a process answering
 * 8x fewer requests a second pays its per-wakeup costs — epoll, timers, syscalls — over 8x fewer
 * requests.) Well under what the router manages with the shadow and Kafka.
 */
const EQUAL_RATE_RPS = 150;
/** A measurement during which processes outside this benchmark used more than this (% of one core) is repeated once. */
const FOREIGN_LIMIT_PCT = 20;
let retryBudget = 0;
let repeated = 0;
if (args.warmup) P.c1Warmup = Number(args.warmup);
if (args['profile-connections']) P.profileConnections = Number(args['profile-connections']);
retryBudget = P.retryBudgetSeconds;
const P99_LIMIT_MS = 10;
/**
 * Isolation load, as a share of the router's closed-loop capacity with a healthy shadow. Paced requests cost
 * the router more CPU each than back-to-back ones (less batching), so a quarter of that capacity keeps it
 * around half busy: moderate, not saturated.
 */
const ISO_LOAD_SHARE = 0.25;

const t0 = Date.now();
const log = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${msg}`);
const notes = []; // things the reader must know about this run (skips, fallbacks)
const note = (msg) => {
  notes.push(msg);
  log(`NOTE: ${msg}`);
};

const MODEL_SHADOW = 'bench-shadow';
const MODEL_PLAIN = 'bench-plain';
const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const ROUTER_SECRET = 'bench-router-secret-0123456789abcdef';
const bodyFor = (model) =>
  JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Give me one sentence about canary releases.' }],
    max_tokens: 64,
  });
/**
 * The issue's client: sequential requests from sticky users (a `user` field, one of 1,000 in turn),
 * each a system + user message.
 */
const stickyBodiesFor = (model) =>
  Array.from({ length: 1000 }, (_, i) =>
    JSON.stringify({
      model,
      user: `user-${i}`,
      messages: [
        { role: 'system', content: 'You are a helpful assistant for a software company.' },
        { role: 'user', content: `Question ${i % 50}: how do canary releases reduce risk?` },
      ],
      max_tokens: 64,
    }),
  );
/**
 * A long request, as an assistant's later turns are: a system prompt and a conversation of some 60
 * turns, about 35 KB of JSON. The router parses it, re-serialises it per upstream call and captures
 * it in the shadow's pair event; the floor only forwards its bytes.
 */
const LONG_TURNS = Array.from(
  { length: 60 },
  (_, i) =>
    `Turn ${i}: ` +
    'the user and the assistant talk about a deployment, with "quoted" names and\nline breaks. '.repeat(6),
);
const longBodyFor = (model) =>
  JSON.stringify({
    model,
    user: 'user-long',
    messages: [
      { role: 'system', content: 'You are a helpful assistant for a software company. '.repeat(20) },
      ...LONG_TURNS.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })),
    ],
    max_tokens: 64,
  });
/** A streamed request for the streaming rows (the upstream paces its chunks, see STREAM_BEHAVIOUR). */
const streamBodyFor = (model) =>
  JSON.stringify({
    model,
    stream: true,
    messages: [{ role: 'user', content: 'Stream one paragraph about canary releases.' }],
  });
/** The streaming rows' upstream: 32 content chunks, 10 ms apart. */
const STREAM_BEHAVIOUR = { preset: 'fine', streamChunks: 32, chunkIntervalMs: 10 };
const STREAMS = 128;
/** Closed-loop throughput is compared with the floor's at this many connections (measured for every peer). */
const THROUGHPUT_CONNECTIONS = 16;
/** The router API key every request carries (all peers get the same bytes; only the router reads it). */
let AUTH = {};

const DIST = {
  router: join(root, 'dist/apps/router/src/main.js'),
  controlPlane: join(root, 'dist/apps/control-plane/src/main.js'),
  demoLlm: join(root, 'dist/libs/demo-llm/src/main.js'),
};
const cleanups = [];

process.on('SIGINT', () => {
  console.error('\ninterrupted: stopping child processes');
  void finish(130);
});
process.on('exit', killAllSync);

async function finish(code) {
  await stopAll().catch(() => {});
  for (const fn of cleanups.reverse())
    await Promise.resolve()
      .then(fn)
      .catch(() => {});
  process.exit(code);
}

// ---- preflight ----------------------------------------------------------------------------------------

function sh(cmd, argv, timeoutMs) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', timeout: timeoutMs });
  return {
    ok: r.status === 0,
    out: (r.stdout ?? '').trim(),
    err: `${r.stderr ?? ''}${r.error ?? ''}`.trim(),
  };
}

function preflight() {
  const missing = Object.entries(DIST).filter(([, f]) => !existsSync(f));
  if (missing.length)
    throw new Error(
      `compiled output missing (${missing.map(([, f]) => relative(root, f)).join(', ')}): run \`npm run build\` first`,
    );
  const autocannon = loadAutocannon();
  const ncpu = cpus().length;
  let pin = !args['no-pin'];
  if (pin && !hasCommand('taskset')) {
    note('taskset not found (util-linux): processes are not pinned');
    pin = false;
  }
  if (pin && ncpu < 2) {
    note(`only ${ncpu} CPU: processes are not pinned`);
    pin = false;
  }
  let nginx = hasCommand('nginx') ? 'nginx' : existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null;
  if (!nginx && !args['no-install'] && process.getuid?.() === 0 && hasCommand('apt-get')) {
    log('nginx not found: installing nginx-light from apt (pass --no-install to skip)');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '-qq', 'nginx-light'], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update', '-qq'], { env, timeout: 300_000 });
      r = spawnSync('apt-get', ['install', '-y', '-qq', 'nginx-light'], {
        env,
        encoding: 'utf8',
        timeout: 300_000,
      });
    }
    nginx = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null;
  }
  if (!nginx) note('nginx is not installed (apt-get install -y nginx-light): the nginx row is skipped');
  return { autocannon, pin, nginx };
}

function machine(nginx) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*(.+)$/m.exec(cpuinfo)?.[1];
  const git = sh('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['status', '--porcelain', '--', 'apps', 'libs']).out !== '';
  return {
    nproc: cpus().length,
    cpuModel: mhz ? `${model} (${Math.round(Number(mhz))} MHz)` : model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    nginx: nginx ? sh(nginx, ['-v']).err.replace(/^nginx version:\s*/, '') || 'unknown' : null,
    autocannon: require('autocannon/package.json').version,
    undici: require('undici/package.json').version,
    commit: git.ok ? `${git.out}${dirty ? ' + uncommitted changes in apps/ or libs/' : ''}` : 'unknown',
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

// ---- services -----------------------------------------------------------------------------------------

async function createDatabase() {
  const pg = serviceAddress('postgres');
  if (!pg.url) {
    note(
      `PostgreSQL could not be started (scripts/services/postgres.sh: ${pg.error}); the control plane uses embedded PGlite`,
    );
    return null;
  }
  return freshDatabase(pg.url, 'aviary_bench', cleanups);
}

function kafkaBrokers() {
  const kafka = serviceAddress('kafka');
  if (!kafka.url) {
    note(`Kafka could not be started (scripts/services/kafka.sh: ${kafka.error}); Kafka rows are skipped`);
    return null;
  }
  return kafka.url;
}

// ---- processes ----------------------------------------------------------------------------------------

async function startDemoLlm(name, seed, cpu) {
  const port = await freePort();
  const child = start(`demo-llm ${name}`, process.execPath, [DIST.demoLlm], {
    cpu,
    env: {
      DEMO_LLM_PORT: String(port),
      DEMO_LLM_NAME: name,
      DEMO_LLM_SEED: String(seed),
      DEMO_LLM_PRESET: 'fine',
    },
  });
  const origin = `http://127.0.0.1:${port}`;
  await waitHttp(`${origin}/health`, { child, ok: (s) => s === 200 });
  return {
    child,
    origin,
    url: `${origin}/v1`,
    async setBehaviour(b) {
      const res = await fetch(`${origin}/admin/behaviour`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(b),
      });
      if (res.status !== 200)
        throw new Error(`${name}: PUT /admin/behaviour ${res.status} ${await res.text()}`);
    },
    async stats() {
      return (await fetch(`${origin}/admin/stats`)).json();
    },
  };
}

async function startControlPlane(db, cpu) {
  const port = await freePort();
  const env = {
    AVIARY_CONTROL_PLANE_PORT: String(port),
    AVIARY_BIND_HOST: '127.0.0.1',
    AVIARY_ADMIN_TOKEN: ADMIN_TOKEN,
    AVIARY_ANALYSIS: 'manual',
    AVIARY_LOG_LEVEL: 'warn',
    UNLEASH_URL: undefined,
  };
  if (db) env.DATABASE_URL = db.url;
  else {
    const dir = mkdtempSync(join(tmpdir(), 'aviary-bench-cp-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    env.DATABASE_URL = undefined;
    env.AVIARY_DATA_DIR = dir;
  }
  const child = start('control plane', process.execPath, [DIST.controlPlane], { cpu, env });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/healthz`, { child, ok: (s) => s === 200, timeoutMs: 90_000 });
  const api = async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    const parsed = text && /json/.test(res.headers.get('content-type') ?? '') ? JSON.parse(text) : text;
    if (res.status >= 300) throw new Error(`control plane ${method} ${path}: ${res.status} ${text}`);
    return parsed;
  };
  return { child, url, api };
}

/**
 * Two models: bench-shadow (v1 → baseline upstream, v2 → candidate; a rollout held in its shadow step
 * with sampleRate 1.0, so every request is also mirrored to the candidate) and bench-plain (v1 only, no
 * rollout). Returns a viewer token for the routers' flag polling.
 */
async function seed(cp, baseline, candidate) {
  for (const [model, versions] of [
    [
      MODEL_SHADOW,
      [
        ['v1', baseline, 'base-8b'],
        ['v2', candidate, 'cand-8b'],
      ],
    ],
    [MODEL_PLAIN, [['v1', baseline, 'base-8b']]],
  ]) {
    await cp.api('POST', '/api/v1/models', { name: model });
    for (const [label, llm, upstreamModel] of versions)
      await cp.api('POST', `/api/v1/models/${model}/versions`, {
        label,
        upstreamBaseUrl: llm.url,
        upstreamModel,
        timeoutMs: 30_000,
      });
  }
  const rollout = await cp.api('POST', '/api/v1/rollouts', {
    model: MODEL_SHADOW,
    candidateVersion: 'v2',
    plan: {
      steps: [
        { type: 'shadow', sampleRate: 1, minDurationSeconds: 86_400 },
        { type: 'setWeight', weight: 100, minDurationSeconds: 3_600 },
      ],
    },
  });
  await cp.api('POST', `/api/v1/rollouts/${rollout.id}/start`, {});
  const { token } = await cp.api('POST', '/api/v1/tokens', { name: 'bench-router', role: 'viewer' });
  const { key } = await cp.api('POST', '/api/v1/router-keys', { name: 'bench-clients' });
  AUTH = { authorization: `Bearer ${key}` };
  setDefaultHeaders(AUTH);
  return token;
}

async function startRouter(name, { cpUrl, token, kafka, cpu, cpuProfDir }) {
  const port = await freePort();
  const backup = mkdtempSync(join(tmpdir(), 'aviary-bench-flags-'));
  cleanups.push(() => rmSync(backup, { recursive: true, force: true }));
  const env = {
    AVIARY_ROUTER_PORT: String(port),
    AVIARY_BIND_HOST: '127.0.0.1',
    AVIARY_FLAGS_URL: `${cpUrl}/api`,
    AVIARY_FLAGS_TOKEN: token,
    AVIARY_FLAGS_BACKUP_DIR: backup,
    AVIARY_ROUTER_SECRET: ROUTER_SECRET,
    AVIARY_LOG_LEVEL: 'warn',
    KAFKA_BROKERS: kafka ?? undefined,
    KAFKA_CLIENT_ID: 'aviary-bench-router',
  };
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  if (args['router-node-options']) nodeArgs.push(...args['router-node-options'].split(/\s+/).filter(Boolean));
  const logFile = join(tmpdir(), `aviary-bench-${name.replace(/\W+/g, '-').replace(/-+$/, '')}-${port}.log`);
  const child = start(name, process.execPath, [...nodeArgs, DIST.router], { cpu, env, logFile });
  log(`  ${name}: ${`http://127.0.0.1:${port}`} (pid ${child.pid}, output in ${logFile})`);
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/healthz`, { child, ok: (s) => s === 200 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const models = await (await fetch(`${url}/v1/models`, { headers: AUTH })).json();
    if ([MODEL_SHADOW, MODEL_PLAIN].every((m) => models.data?.some((d) => d.id === m))) break;
    if (Date.now() > deadline)
      throw new Error(`${name} does not know the models after 20 s:\n${child.tail()}`);
    await sleep(100);
  }
  return { child, url, pid: child.pid };
}

/** `--hold`: everything up, addresses printed, for profiling or tracing by hand. */
async function hold(seconds, ctx, { kafka, baseline, candidate, cp, CPU }) {
  const floor = await startPassthrough(baseline.origin, CPU.peer);
  const router = await startRouter('router (held)', { ...ctx, kafka });
  const body = JSON.stringify({
    model: MODEL_PLAIN,
    messages: [{ role: 'user', content: 'Hello' }],
    max_tokens: 64,
  });
  log(`holding for ${seconds}s; models ${MODEL_PLAIN} (no rollout), ${MODEL_SHADOW} (shadow 1.0)`);
  log(
    `  baseline ${baseline.origin} (pid ${baseline.child.pid}), candidate ${candidate.origin} (pid ${candidate.child.pid})`,
  );
  log(
    `  control plane ${cp.url} (pid ${cp.child.pid}); evidence: ${kafka ? `Kafka ${kafka}` : 'in-process sink'}`,
  );
  log(`  floor ${floor.url} (pid ${floor.pid}); router ${router.url} (pid ${router.pid})`);
  log(
    `  curl -s ${router.url}/v1/chat/completions -H '${Object.entries(AUTH)
      .map(([k, v]) => `${k}: ${v}`)
      .join('')}' -H 'content-type: application/json' -d '${body}'`,
  );
  await sleep(seconds * 1000);
}

async function startPassthrough(upstreamOrigin, cpu) {
  const child = start(
    'undici pass-through',
    process.execPath,
    [join(root, 'bench/undici-passthrough.mjs'), '--upstream', upstreamOrigin],
    { cpu },
  );
  const [, url] = await waitLine(child, /listening (http:\/\/\S+)/);
  return { child, url, pid: child.pid };
}

async function startNginx(bin, upstreamOrigin, cpu) {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-bench-nginx-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const up = new URL(upstreamOrigin);
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `# Generated by bench/router-bench.mjs: one worker (like one Node process), keep-alive on both sides.
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  upstream demo_llm {
    server ${up.hostname}:${up.port};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://demo_llm;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  const child = start(
    'nginx',
    bin,
    ['-e', join(dir, 'error.log'), '-p', `${dir}/`, '-c', conf, '-g', 'daemon off;'],
    { cpu },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/health`, { child, ok: (s) => s === 200 });
  return { child, url, pid: child.pid, conf };
}

// ---- checks -------------------------------------------------------------------------------------------

async function chat(url, model) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...AUTH },
    body: bodyFor(model),
  });
  const body = await res.json();
  if (res.status !== 200 || body.object !== 'chat.completion')
    throw new Error(`${url}: sanity request answered ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  return res;
}

/** One request through the router; checks who answered and whether the candidate got a shadow copy. */
async function checkRouting(router, model, candidate, expectShadow) {
  const before = (await candidate.stats()).requests;
  const res = await chat(router.url, model);
  if (res.headers.get('x-aviary-role') !== 'baseline' || res.headers.get('x-aviary-model-version') !== 'v1')
    throw new Error(`${model}: expected the baseline v1 to answer, got ${res.headers.get('x-aviary-role')}`);
  const deadline = Date.now() + (expectShadow ? 5_000 : 500);
  let after = before;
  while (Date.now() < deadline) {
    after = (await candidate.stats()).requests;
    if (expectShadow && after > before) return;
    await sleep(50);
  }
  if (expectShadow) throw new Error(`${model}: the candidate received no shadow copy within 5 s`);
  if (after !== before) throw new Error(`${model}: the candidate received traffic but no rollout is active`);
}

async function scrape(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (name, filter = {}) => {
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const m = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]),
      );
      if (Object.entries(filter).every(([k, v]) => labels[k] === v)) total += Number(m[3]);
    }
    return total;
  };
  return {
    published: sum('aviary_router_events_published_total'),
    dropped: sum('aviary_router_events_dropped_total'),
    buffered: sum('aviary_router_events_buffered'),
    sinkUp: sum('aviary_router_event_sink_up'),
    shadowShed: sum('aviary_router_shadow_shed_total'),
    shadowOk: sum('aviary_router_requests_total', { role: 'shadow', status: '200' }),
    shadowAll: sum('aviary_router_requests_total', { role: 'shadow' }),
    shadowErrors: sum('aviary_router_errors_total', { role: 'shadow' }),
    primary: sum('aviary_router_requests_total', { role: 'baseline' }),
    // prom-client resets its event-loop delay histogram on every scrape: this is the longest gap between two of
    // its 10 ms probes since the last one (an idle loop shows ~10 ms), see the report's isolation section.
    loopLagMaxMs: sum('aviary_router_nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

// ---- measurement --------------------------------------------------------------------------------------

const fmtStreams = (r) =>
  `TTFT p50 ${r.ttft.p50.toFixed(2)} / p99 ${r.ttft.p99.toFixed(2)} ms, ${Math.round(r.rps)} streams/s` +
  (r.cpuUsPerReq !== null ? `, ${Math.round(r.cpuUsPerReq)} µs CPU/stream` : '') +
  (r.errors ? `, ${r.errors} errors` : '') +
  (r.foreignPct >= 5 ? ` [other processes used ${Math.round(r.foreignPct)}% of a core meanwhile]` : '');
const fmt = (r) =>
  r.ttft
    ? fmtStreams(r)
    : `p50 ${r.p50.toFixed(3)} ms, p99 ${r.p99.toFixed(3)} ms, ${Math.round(r.rps)} req/s` +
      (r.cpuUsPerReq !== null ? `, ${Math.round(r.cpuUsPerReq)} µs CPU/req` : '') +
      (r.non2xx || r.errors ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : '') +
      (r.runDelayPct >= 1 ? `, main thread waited for a CPU ${r.runDelayPct.toFixed(1)}% of the time` : '') +
      (r.foreignPct >= 5 ? ` [other processes used ${Math.round(r.foreignPct)}% of a core meanwhile]` : '');

/**
 * Runs a measurement; if other processes (not this benchmark, not the Kafka broker) used more than
 * FOREIGN_LIMIT_PCT of a core meanwhile, runs it once more and keeps the quieter of the two, within a
 * time budget for the whole run.
 */
async function quiet(label, fn) {
  let best = await fn();
  if (best.foreignPct > FOREIGN_LIMIT_PCT && retryBudget > 0) {
    log(`  other processes used ${Math.round(best.foreignPct)}% of a core during ${label}: measuring again`);
    const t = Date.now();
    const again = await fn();
    retryBudget -= (Date.now() - t) / 1000;
    repeated++;
    if (again.foreignPct < best.foreignPct) best = again;
    log(`  ${label}: kept the run with ${Math.round(best.foreignPct)}% other load: ${fmt(best)}`);
  }
  return best;
}

/**
 * A freshly started process is not in its steady state: the router's CPU per request falls by about 3x
 * over its first ~8 s under load (~5,000 requests: V8 tiers up hundreds of functions in the router,
 * undici, kafkajs and prom-client; the Kafka producer connects and learns the topics). Each peer process
 * is loaded at 4 connections for a while before anything is measured, every model it serves in turn.
 */
async function settleProcess(ac, label, url, models, seconds) {
  log(`${label}: process warm-up, ${seconds}s at 4 connections`);
  for (const model of models)
    await run(ac, {
      url: `${url}/v1/chat/completions`,
      body: bodyFor(model),
      connections: 4,
      seconds: seconds / models.length,
    });
}

/** Busy and stolen time of each CPU since boot, in clock ticks (/proc/stat). */
function cpuTicks() {
  try {
    return readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .filter((l) => /^cpu\d+ /.test(l))
      .map((l) => {
        const f = l.trim().split(/\s+/).slice(1).map(Number);
        return { total: f.reduce((a, b) => a + b, 0), steal: f[7] ?? 0 };
      });
  } catch {
    return null;
  }
}

/** Time the hypervisor took from this machine's CPUs between two cpuTicks(), in % of all their time. */
function stealPct(a, b) {
  if (!a || !b) return null;
  let total = 0;
  let steal = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    total += b[i].total - a[i].total;
    steal += b[i].steal - a[i].steal;
  }
  return total > 0 ? (100 * steal) / total : null;
}

/**
 * The target comparisons measured as pairs: the floor and the router (both pinned to the peer's core,
 * one busy at a time) in interleaved rounds, each round the floor and both router models back to
 * back in a rotating order, closed-loop at THROUGHPUT_CONNECTIONS and then STREAMS streams. One
 * measurement of each, minutes apart, swings with the state of the processes and the machine (GC,
 * evidence batches, the unpinned Kafka broker, the hypervisor's steal): a ratio taken within
 * seconds, over several rounds, is the figure a verdict can rest on. The verdicts use the median
 * round.
 */
async function pairedRounds(ac, router, baseline, upstreams, cpu) {
  const floor = await startPassthrough(baseline.origin, cpu);
  try {
    await settleProcess(
      ac,
      'undici pass-through (paired rounds)',
      floor.url,
      [MODEL_SHADOW],
      P.processWarmup.other,
    );
    const sides = [
      { id: 'floor', url: floor.url, pid: floor.pid, model: MODEL_SHADOW },
      { id: 'plain', url: router.url, pid: router.pid, model: MODEL_PLAIN },
      { id: 'shadow', url: router.url, pid: router.pid, model: MODEL_SHADOW },
    ];
    const rounds = [];
    log(
      `paired rounds: ${P.pairedRounds} x (floor, no rollout, shadow 1.0) at ${THROUGHPUT_CONNECTIONS} connections with short and with long (~35 KB) requests, (direct, floor, shadow 1.0) at 1 connection and (floor, no rollout, shadow 1.0) at ${STREAMS} streams, ${P.pairedRoundSeconds}s each`,
    );
    for (let i = 0; i < P.pairedRounds; i++) {
      const order = sides.map((_, k) => sides[(k + i) % sides.length]);
      const t0 = cpuTicks();
      // Closed-loop at THROUGHPUT_CONNECTIONS, each side in the round's order, with `bodyOf(model)`.
      const closedLoop = async (bodyOf) => {
        const out = {};
        for (const side of order)
          out[side.id] = await measure(ac, {
            url: `${side.url}/v1/chat/completions`,
            body: bodyOf(side.model),
            connections: THROUGHPUT_CONNECTIONS,
            seconds: P.pairedRoundSeconds,
            warmupSeconds: 0.3,
            pid: side.pid,
          });
        return out;
      };
      const tp = await closedLoop(bodyFor);
      // Long requests (~35 KB): what the router's per-byte work costs against the floor's.
      const long = await closedLoop(longBodyFor);
      // Added latency at concurrency 1: the direct call first (what "added" is taken against), then
      // the floor and the router with the shadow (the target's row) in the round's order.
      const c1 = {};
      const c1Sides = [
        { id: 'direct', url: baseline.origin, pid: baseline.child.pid, model: MODEL_SHADOW },
        ...order.filter((side) => side.id !== 'plain'),
      ];
      for (const side of c1Sides)
        c1[side.id] = await measure(ac, {
          url: `${side.url}/v1/chat/completions`,
          body: bodyFor(side.model),
          connections: 1,
          seconds: P.pairedRoundSeconds,
          warmupSeconds: 0.3,
          warmupConnections: 4,
          pid: side.pid,
        });
      for (const u of upstreams) await u.setBehaviour(STREAM_BEHAVIOUR);
      const st = {};
      for (const side of order)
        st[side.id] = await measureStreams({
          url: `${side.url}/v1/chat/completions`,
          body: streamBodyFor(side.model),
          streams: STREAMS,
          seconds: P.pairedRoundSeconds,
          warmupSeconds: 0.3,
          pid: side.pid,
        });
      for (const u of upstreams) await u.setBehaviour({ preset: 'fine' });
      const steal = stealPct(t0, cpuTicks());
      const round = {
        throughput: Object.fromEntries(
          Object.entries(tp).map(([k, v]) => [k, { rps: v.rps, p99: v.p99, cpuUsPerReq: v.cpuUsPerReq }]),
        ),
        long: Object.fromEntries(
          Object.entries(long).map(([k, v]) => [k, { rps: v.rps, p99: v.p99, cpuUsPerReq: v.cpuUsPerReq }]),
        ),
        streams: Object.fromEntries(Object.entries(st).map(([k, v]) => [k, { ttft: v.ttft, rps: v.rps }])),
        c1: Object.fromEntries(Object.entries(c1).map(([k, v]) => [k, { p50: v.p50, p99: v.p99 }])),
        stealPct: steal,
      };
      rounds.push(round);
      const r = round.throughput;
      const s = round.streams;
      log(
        `  round ${i + 1}: req/s floor ${Math.round(r.floor.rps)}, no rollout ${Math.round(r.plain.rps)} (${(r.plain.rps / r.floor.rps).toFixed(2)}x), shadow ${Math.round(r.shadow.rps)} (${(r.shadow.rps / r.floor.rps).toFixed(2)}x); ` +
          `long requests: floor ${Math.round(round.long.floor.rps)}, no rollout ${(round.long.plain.rps / round.long.floor.rps).toFixed(2)}x, shadow ${(round.long.shadow.rps / round.long.floor.rps).toFixed(2)}x; ` +
          `TTFT p50 floor ${s.floor.ttft.p50.toFixed(2)}, shadow ${signedMs(s.shadow.ttft.p50 - s.floor.ttft.p50)}, no rollout ${signedMs(s.plain.ttft.p50 - s.floor.ttft.p50)} ms; ` +
          `c=1 added p50 floor ${Math.round((c1.floor.p50 - c1.direct.p50) * 1000)} µs, shadow ${Math.round((c1.shadow.p50 - c1.direct.p50) * 1000)} µs` +
          (steal !== null ? `; hypervisor steal ${steal.toFixed(1)}%` : ''),
      );
    }
    return {
      rounds,
      seconds: P.pairedRoundSeconds,
      connections: THROUGHPUT_CONNECTIONS,
      streams: STREAMS,
      longBodyBytes: Buffer.byteLength(longBodyFor(MODEL_SHADOW)),
    };
  } finally {
    await stop(floor.child);
  }
}

const signedMs = (v) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;

async function benchPeer(ac, peer, direct) {
  const url = `${peer.url}/v1/chat/completions`;
  const body = bodyFor(peer.model);
  const bodies = peer.sticky ? stickyBodiesFor(peer.model) : undefined;
  // Direct again right before this peer, so "added" compares measurements taken a few seconds apart rather
  // than minutes apart (the machine drifts by tens of µs, which is all of nginx's overhead).
  let pairedDirect = null;
  if (direct) {
    log(`${peer.label}: direct at concurrency 1 for ${P.pairedSeconds}s, for the paired comparison`);
    pairedDirect = await quiet('direct c=1 (paired)', () =>
      measure(ac, {
        url: `${direct.url}/v1/chat/completions`,
        body,
        connections: 1,
        seconds: P.pairedSeconds,
        warmupSeconds: QUICK ? 0.3 : 0.5,
        pid: direct.pid,
      }),
    );
    log(`  direct c=1 (paired): ${fmt(pairedDirect)}`);
  }
  log(`${peer.label}: warm-up ${P.c1Warmup}s, then latency at concurrency 1 for ${P.c1Seconds}s`);
  const c1 = await quiet(`${peer.label} c=1`, () =>
    measure(ac, {
      url,
      body,
      bodies,
      connections: 1,
      seconds: P.c1Seconds,
      warmupSeconds: P.c1Warmup,
      warmupConnections: 4,
      pid: peer.pid,
    }),
  );
  log(`  ${peer.label} c=1: ${fmt(c1)}`);
  const levels = [c1];
  const level = async (c) => {
    log(`${peer.label}: throughput at concurrency ${c} (${P.levelSeconds}s)`);
    const r = await quiet(`${peer.label} c=${c}`, () =>
      measure(ac, {
        url,
        body,
        bodies,
        connections: c,
        seconds: P.levelSeconds,
        warmupSeconds: P.levelWarmup,
        pid: peer.pid,
      }),
    );
    log(`  ${peer.label} c=${c}: ${fmt(r)}`);
    levels.push(r);
  };
  if (c1.p99 < P99_LIMIT_MS)
    for (const c of P.levels.filter((l) => l > 1)) {
      await level(c);
      // Two levels in a row over the limit ends the search (one may be a single noisy spike).
      const [prev, last] = levels.slice(-2);
      if (last.p99 >= P99_LIMIT_MS && prev.p99 >= P99_LIMIT_MS) break;
    }
  // The throughput target's point (issue 12): closed loop at 16 connections, whatever its p99.
  if (!levels.some((l) => l.connections === THROUGHPUT_CONNECTIONS)) {
    await level(THROUGHPUT_CONNECTIONS);
    levels.sort((a, b) => a.connections - b.connections);
  }
  const ok = levels.filter((l) => l.p99 < P99_LIMIT_MS && l.non2xx === 0 && l.errors === 0);
  const best = ok.sort((a, b) => b.rps - a.rps)[0] ?? null;
  log(
    `${peer.label}: paced at ${EQUAL_RATE_RPS} req/s for ${P.equalRateSeconds}s (CPU per request at an equal rate)`,
  );
  const equalRate = await quiet(`${peer.label} at ${EQUAL_RATE_RPS} req/s`, () =>
    measurePaced({
      url,
      body,
      connections: 4,
      rate: EQUAL_RATE_RPS,
      seconds: P.equalRateSeconds,
      warmupSeconds: QUICK ? 0.3 : 0.5,
      pid: peer.pid,
    }),
  );
  log(`  ${peer.label} at ${EQUAL_RATE_RPS} req/s: ${fmt(equalRate)}`);
  return {
    id: peer.id,
    label: peer.label,
    describe: peer.describe,
    c1,
    equalRate: { ...equalRate, rate: EQUAL_RATE_RPS },
    pairedDirect: pairedDirect ?? c1,
    levels,
    best,
  };
}

/**
 * The primary's latency with a healthy, slow and failing shadow. All scenarios get the same load: a fixed
 * number of connections and a fixed arrival rate (half of what the router managed with a healthy shadow in
 * a short closed-loop calibration run), so a scenario that makes the router cheaper or dearer does not also
 * change how hard it is pushed. Scenarios are interleaved over several rounds so that drift of the machine
 * (other load, GC, the broker) spreads over all of them instead of biasing one.
 */
async function isolation(ac, router, candidate) {
  const scenarios = [
    { id: 'healthy', label: '(i) healthy shadow', behaviour: { preset: 'fine' } },
    { id: 'slow', label: '(ii) slow shadow, latencyMs 2000', behaviour: { preset: 'fine', latencyMs: 2000 } },
    {
      id: 'errors',
      label: '(iii) failing shadow, errorRate 1 (HTTP 500)',
      behaviour: { preset: 'fine', errorRate: 1 },
    },
    {
      id: 'drops',
      label: '(iv) failing shadow, connectionDropRate 1',
      behaviour: { preset: 'fine', connectionDropRate: 1 },
    },
  ];
  const url = `${router.url}/v1/chat/completions`;
  const body = bodyFor(MODEL_SHADOW);
  const settle = async () => {
    // Let shadow calls of the previous scenario (e.g. 2 s slow ones) finish first.
    for (let i = 0; i < 60 && (await candidate.stats()).inFlight > 0; i++) await sleep(100);
  };
  await candidate.setBehaviour({ preset: 'fine' });
  await settle();
  log(
    `shadow isolation: calibrating (healthy shadow, 4 connections, closed loop, ${P.isoCalibrateSeconds}s)`,
  );
  const cal = await run(ac, { url, body, connections: 4, seconds: P.isoCalibrateSeconds });
  const rate = Math.max(20, Math.round(cal.rps * ISO_LOAD_SHARE));
  log(
    `  the router answered ${Math.round(cal.rps)} req/s; scenarios run paced at ${rate} req/s over at most ${P.isoConnections} connections`,
  );
  const rounds = Object.fromEntries(scenarios.map((s) => [s.id, []]));
  const shadow = Object.fromEntries(scenarios.map((s) => [s.id, { sent: 0, shed: 0, ok: 0, errors: 0 }]));
  for (let round = 1; round <= P.isoRounds; round++)
    for (const s of scenarios) {
      await candidate.setBehaviour(s.behaviour);
      const r = await quiet(`${s.label}, round ${round}`, async () => {
        await settle();
        const m0 = await scrape(router.url);
        const c0 = (await candidate.stats()).requests;
        const m = await measurePaced({
          url,
          body,
          connections: P.isoConnections,
          rate,
          seconds: P.isoSeconds,
          warmupSeconds: P.isoWarmup,
          keepSamples: true,
          pid: router.pid,
        });
        const m1 = await scrape(router.url);
        const c1 = (await candidate.stats()).requests;
        m.shadow = {
          sent: c1 - c0,
          shed: m1.shadowShed - m0.shadowShed,
          ok: m1.shadowOk - m0.shadowOk,
          errors: m1.shadowErrors - m0.shadowErrors,
        };
        m.loopLagMaxMs = m1.loopLagMaxMs;
        return m;
      });
      const sh = shadow[s.id];
      for (const k of Object.keys(sh)) sh[k] += r.shadow[k];
      rounds[s.id].push(r);
      log(
        `  round ${round}/${P.isoRounds} ${s.label}: ${fmt(r)}; longest event-loop probe gap ${r.loopLagMaxMs.toFixed(1)} ms`,
      );
    }
  await candidate.setBehaviour({ preset: 'fine' });
  await settle();
  return {
    rate,
    calibrationRps: cal.rps,
    scenarios: scenarios.map((s) => ({ ...s, result: pool(rounds[s.id]), shadow: shadow[s.id] })),
  };
}

async function profileRouter(ac, ctx) {
  const dir = mkdtempSync(join(tmpdir(), 'aviary-bench-prof-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const model = args['profile-model'] === 'plain' ? MODEL_PLAIN : MODEL_SHADOW;
  const kafka = args['profile-sink'] === 'inproc' ? null : ctx.kafka;
  const router = await startRouter('router (profiled)', { ...ctx, kafka, cpuProfDir: dir });
  await checkRouting(router, MODEL_SHADOW, ctx.candidate, true);
  await settleProcess(ac, 'router (profiled)', router.url, [model], P.processWarmup.router);
  log(
    `profiling the router (node --cpu-prof): ${model}, evidence to ${kafka ? 'Kafka' : 'the in-process sink'}, ${P.profileConnections} connections, ${P.profileSeconds}s`,
  );
  const load = {
    url: `${router.url}/v1/chat/completions`,
    body: bodyFor(model),
    connections: P.profileConnections,
  };
  await run(ac, { ...load, seconds: P.c1Warmup });
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r = await measure(ac, { ...load, seconds: P.profileSeconds, warmupSeconds: 0, pid: router.pid });
  const toUs = Number(process.hrtime.bigint() / 1000n);
  log(`  under the profiler: ${fmt(r)}`);
  // Then streams with the shadow, as in the streaming rows, in a window of their own.
  for (const u of ctx.upstreams) await u.setBehaviour(STREAM_BEHAVIOUR);
  const stream = { url: load.url, body: streamBodyFor(model), streams: STREAMS };
  await measureStreams({ ...stream, seconds: P.streamWarmup, warmupSeconds: 0, pid: router.pid });
  const sFromUs = Number(process.hrtime.bigint() / 1000n);
  const sr = await measureStreams({ ...stream, seconds: P.streamSeconds, warmupSeconds: 0, pid: router.pid });
  const sToUs = Number(process.hrtime.bigint() / 1000n);
  for (const u of ctx.upstreams) await u.setBehaviour({ preset: 'fine' });
  log(`  streams under the profiler: TTFT p50 ${sr.ttft.p50.toFixed(2)} ms, ${sr.count} streams`);
  await stop(router.child);
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) {
    note('the router wrote no .cpuprofile; no profile section');
    return null;
  }
  const raw = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const summary = summarizeProfile(raw, 25, { fromUs, toUs });
  const streaming = {
    ...summarizeProfile(raw, 25, { fromUs: sFromUs, toUs: sToUs }),
    load: sr,
    requests: sr.count,
  };
  if (summary.totalMs < (P.profileSeconds * 1000) / 2)
    note(`the profile window holds only ${Math.round(summary.totalMs)} ms of samples (clock mismatch?)`);
  const keep = join(tmpdir(), `aviary-router-${Date.now()}.cpuprofile`);
  writeFileSync(keep, readFileSync(join(dir, file)));
  log(
    `  profile kept at ${keep} (open in Chrome DevTools → Performance, or node bench/lib/cpuprofile.mjs ${keep})`,
  );
  return { ...summary, file: keep, load: r, requests: r.count, window: { fromUs, toUs }, streaming };
}

/**
 * Streaming at STREAMS concurrent streams: time to first token through the peer, the upstream pacing
 * its answers at 32 chunks 10 ms apart (both upstreams, so a shadow copy streams the same way).
 */
async function streamingRow(rows, upstreams, { id, label, url, pid, model }) {
  for (const u of upstreams) await u.setBehaviour(STREAM_BEHAVIOUR);
  log(`${label}: ${STREAMS} concurrent streams for ${P.streamSeconds}s (32 chunks 10 ms apart)`);
  const r = await quiet(`${label} streams`, () =>
    measureStreams({
      url: `${url}/v1/chat/completions`,
      body: streamBodyFor(model),
      streams: STREAMS,
      seconds: P.streamSeconds,
      warmupSeconds: P.streamWarmup,
      pid,
    }),
  );
  for (const u of upstreams) await u.setBehaviour({ preset: 'fine' });
  log(`  ${label} streams: ${fmtStreams(r)}`);
  rows.push({ id, label, ...r });
}

// ---- main ---------------------------------------------------------------------------------------------

async function main() {
  log(`Aviary router benchmark (${QUICK ? 'quick' : 'full'} run)`);
  const { autocannon: ac, pin, nginx } = preflight();
  // Pinning (2 cores): CPU 0 = load generator (this process) + upstreams + control plane; CPU 1 = the
  // proxy under test, alone. PostgreSQL and the Kafka broker are shared services and are not pinned.
  const CPU = pin
    ? { gen: 0, upstream: 0, cp: 0, peer: 1 }
    : { gen: null, upstream: null, cp: null, peer: null };
  if (pin) sh('taskset', ['-pc', String(CPU.gen), String(process.pid)]);
  const info = machine(nginx);
  log(`machine: ${info.nproc} CPUs, ${info.cpuModel}, node ${info.node}, pinning ${pin ? 'on' : 'off'}`);

  log('services: PostgreSQL (scripts/services/postgres.sh) and Kafka (scripts/services/kafka.sh)');
  const db = await createDatabase();
  const kafka = kafkaBrokers();
  log(
    `  database: ${db ? `PostgreSQL, fresh database ${db.name}` : 'embedded PGlite'}; Kafka: ${kafka ?? 'none'}`,
  );

  log('starting upstreams: demo-llm baseline and candidate (behaviour fine), each in its own process');
  const baseline = await startDemoLlm('baseline', 1, CPU.upstream);
  const candidate = await startDemoLlm('candidate', 2, CPU.upstream);
  log(
    `  baseline ${baseline.origin} (pid ${baseline.child.pid}), candidate ${candidate.origin} (pid ${candidate.child.pid})`,
  );
  log('starting the control plane (built-in flags) and seeding models + a shadow rollout');
  const cp = await startControlPlane(db, CPU.cp);
  watch('controlPlane', cp.child.pid);
  watch('baseline', baseline.child.pid);
  watch('candidate', candidate.child.pid);
  const token = await seed(cp, baseline, candidate);
  const ctx = { cpUrl: cp.url, token, cpu: CPU.peer, candidate };

  if (HOLD_SECONDS !== null) return hold(HOLD_SECONDS, ctx, { kafka, baseline, candidate, cp, CPU });

  const peers = [];
  const streaming = [];
  const upstreams = [baseline, candidate];
  const skipped = [];
  const directPeer = { url: baseline.origin, pid: baseline.child.pid };
  const runPeer = async (peer) => {
    const r = await benchPeer(ac, peer, peer.id === 'direct' ? null : directPeer);
    peers.push(r);
    return r;
  };

  // (a) direct
  await chat(baseline.origin, MODEL_SHADOW);
  await settleProcess(ac, 'direct (the upstream)', baseline.origin, [MODEL_SHADOW], P.processWarmup.other);
  await runPeer({
    id: 'direct',
    label: 'direct',
    model: MODEL_SHADOW,
    url: baseline.origin,
    pid: baseline.child.pid,
    describe: 'autocannon → demo-llm',
  });
  await streamingRow(streaming, upstreams, {
    id: 'direct',
    label: 'direct',
    url: baseline.origin,
    pid: baseline.child.pid,
    model: MODEL_SHADOW,
  });

  // (b) undici pass-through
  if (want('undici')) {
    const p = await startPassthrough(baseline.origin, CPU.peer);
    await chat(p.url, MODEL_SHADOW);
    await settleProcess(ac, 'undici pass-through', p.url, [MODEL_SHADOW], P.processWarmup.other);
    await runPeer({
      id: 'undici',
      label: 'undici pass-through',
      model: MODEL_SHADOW,
      ...p,
      describe: 'node:http + undici Pool, body buffered, response piped',
    });
    await streamingRow(streaming, upstreams, {
      id: 'undici',
      label: 'undici pass-through',
      ...p,
      model: MODEL_SHADOW,
    });
    await stop(p.child);
  }

  // (c) nginx
  if (!want('nginx')) {
    // not asked for
  } else if (nginx) {
    try {
      const p = await startNginx(nginx, baseline.origin, CPU.peer);
      await chat(p.url, MODEL_SHADOW);
      await settleProcess(ac, 'nginx', p.url, [MODEL_SHADOW], P.processWarmup.other);
      await runPeer({
        id: 'nginx',
        label: 'nginx',
        model: MODEL_SHADOW,
        ...p,
        describe: '1 worker, upstream keepalive 256',
      });
      await stop(p.child);
    } catch (err) {
      note(`nginx failed to run, row skipped: ${String(err.message ?? err).split('\n')[0]}`);
      skipped.push('nginx');
    }
  } else skipped.push('nginx');

  // (d) the router, everything on: shadow 1.0 + metrics + Kafka
  let iso = null;
  const anatomies = [];
  const anatomize = async (router, sink) => {
    for (const [model, label] of [
      [MODEL_SHADOW, `shadow 1.0 + ${sink}`],
      [MODEL_PLAIN, `no rollout + ${sink}`],
    ]) {
      log(`latency anatomy (server-timing), ${label}, concurrency 1, ${P.anatomySeconds}s`);
      const an = await anatomy({
        url: `${router.url}/v1/chat/completions`,
        body: bodyFor(model),
        seconds: P.anatomySeconds,
      });
      anatomies.push({ label, ...an });
      const f = (v) => v.toFixed(3);
      log(
        `  typical: client ${f(an.typical.client)} ms = upstream ${f(an.typical.upstream)} + handler ${f(an.typical.handler)} + outside ${f(an.typical.outside)}; ` +
          `slowest 1%: ${f(an.slowest.client)} = ${f(an.slowest.upstream)} + ${f(an.slowest.handler)} + ${f(an.slowest.outside)}`,
      );
    }
  };
  let kafkaStats = null;
  let inprocStats = null;
  let paired = null;
  if (kafka && want('router-kafka')) {
    const router = await startRouter('router (Kafka)', { ...ctx, kafka });
    await checkRouting(router, MODEL_SHADOW, candidate, true);
    await checkRouting(router, MODEL_PLAIN, candidate, false);
    await settleProcess(
      ac,
      'router (Kafka)',
      router.url,
      [MODEL_SHADOW, MODEL_PLAIN],
      P.processWarmup.router,
    );
    await runPeer({
      id: 'router-kafka',
      label: 'Aviary router: shadow 1.0 + Kafka',
      model: MODEL_SHADOW,
      ...router,
      describe:
        'rollout in shadow step, sampleRate 1.0 (2 upstream calls per request); metrics; evidence → Kafka',
    });
    await runPeer({
      id: 'router-kafka-noshadow',
      label: 'Aviary router: no rollout + Kafka',
      model: MODEL_PLAIN,
      ...router,
      describe: 'same process, a model with no rollout (1 upstream call); metrics; evidence → Kafka',
    });
    await runPeer({
      id: 'router-kafka-sticky',
      label: 'Aviary router: no rollout + Kafka, sticky users',
      model: MODEL_PLAIN,
      sticky: true,
      ...router,
      describe: 'same, each request from one of 1,000 users (`user` field), a system + user message',
    });
    await streamingRow(streaming, upstreams, {
      id: 'router-kafka',
      label: 'Aviary router: shadow 1.0 + Kafka',
      ...router,
      model: MODEL_SHADOW,
    });
    await streamingRow(streaming, upstreams, {
      id: 'router-kafka-noshadow',
      label: 'Aviary router: no rollout + Kafka',
      ...router,
      model: MODEL_PLAIN,
    });
    if (want('undici')) paired = await pairedRounds(ac, router, baseline, upstreams, CPU.peer);
    await anatomize(router, 'Kafka');
    if (want('isolation')) iso = await isolation(ac, router, candidate);
    await sleep(500);
    kafkaStats = await scrape(router.url);
    log(
      `  Kafka sink: ${kafkaStats.published} events published, ${kafkaStats.dropped} dropped, ${kafkaStats.buffered} buffered, sink up ${kafkaStats.sinkUp}`,
    );
    await stop(router.child);
  } else if (!kafka) skipped.push('router-kafka', 'router-kafka-noshadow');

  if (want('router-inproc')) {
    const router = await startRouter('router (in-process sink)', { ...ctx, kafka: null });
    await checkRouting(router, MODEL_SHADOW, candidate, true);
    await settleProcess(
      ac,
      'router (in-process sink)',
      router.url,
      [MODEL_SHADOW, MODEL_PLAIN],
      P.processWarmup.router,
    );
    await runPeer({
      id: 'router-inproc',
      label: 'Aviary router: shadow 1.0 + in-process sink',
      model: MODEL_SHADOW,
      ...router,
      describe: 'as above, evidence to the in-process bus (no Kafka)',
    });
    await runPeer({
      id: 'router-inproc-noshadow',
      label: 'Aviary router: no rollout + in-process sink',
      model: MODEL_PLAIN,
      ...router,
      describe: 'same process, the model with no rollout: the router without shadow and without Kafka',
    });
    await runPeer({
      id: 'router-inproc-sticky',
      label: 'Aviary router: no rollout + in-process sink, sticky users',
      model: MODEL_PLAIN,
      sticky: true,
      ...router,
      describe: 'same, each request from one of 1,000 users (`user` field), a system + user message',
    });
    await streamingRow(streaming, upstreams, {
      id: 'router-inproc',
      label: 'Aviary router: shadow 1.0 + in-process sink',
      ...router,
      model: MODEL_SHADOW,
    });
    await streamingRow(streaming, upstreams, {
      id: 'router-inproc-noshadow',
      label: 'Aviary router: no rollout + in-process sink',
      ...router,
      model: MODEL_PLAIN,
    });
    await anatomize(router, 'in-process sink');
    if (!iso && !kafka && want('isolation')) iso = await isolation(ac, router, candidate);
    inprocStats = await scrape(router.url);
    await stop(router.child);
  }

  let directAgain = null;
  if (P.remeasureDirect) {
    log('direct again at concurrency 1 (drift check)');
    directAgain = await quiet('direct c=1 again', () =>
      measure(ac, {
        url: `${baseline.origin}/v1/chat/completions`,
        body: bodyFor(MODEL_SHADOW),
        connections: 1,
        seconds: P.c1Seconds,
        warmupSeconds: 1,
        pid: baseline.child.pid,
      }),
    );
    log(`  direct c=1 again: ${fmt(directAgain)}`);
  }

  let profile = null;
  if (PROFILE) profile = await profileRouter(ac, { ...ctx, kafka, upstreams });

  if (repeated > 0)
    note(
      `${repeated} measurement(s) were repeated because other processes used more than ${FOREIGN_LIMIT_PCT}% of a core meanwhile (the quieter run is kept)`,
    );
  const results = {
    quick: QUICK,
    params: P,
    info,
    pin,
    cpu: CPU,
    database: db ? 'postgresql' : 'pglite',
    kafka,
    peers,
    streaming,
    paired,
    skipped,
    isolation: iso,
    anatomies,
    isolationSink: kafka ? 'Kafka' : 'in-process',
    kafkaStats,
    inprocStats,
    directAgain,
    profile,
    notes,
    runtimeSeconds: (Date.now() - t0) / 1000,
    command: `node bench/router-bench.mjs${QUICK ? ' --quick' : ''}`,
  };
  console.log(`\n${renderConsole(results)}`);
  if (args.json) writeFileSync(args.json, JSON.stringify(results, null, 2));
  if (!args['no-write']) {
    const md = await renderMarkdown(results, root);
    // A smoke run does not replace the full run's figures unless asked to.
    const out = args.out
      ? resolve(root, args.out)
      : QUICK
        ? join(tmpdir(), 'aviary-benchmarks-quick.md')
        : join(root, 'docs/benchmarks.md');
    // Sections other benchmarks own (bench/rollback-bench.mjs) stay as they are.
    const kept = keptSections(join(root, 'docs/benchmarks.md'));
    writeFileSync(out, kept ? `${md.trimEnd()}\n\n${kept}` : md);
    log(`wrote ${relative(root, out)}`);
  }
  log(`done in ${Math.round((Date.now() - t0) / 1000)}s`);
}

/** --from-json <file>: no measuring, just render the report of an earlier run's --json output again. */
async function rerender(file) {
  const results = JSON.parse(readFileSync(resolve(root, file), 'utf8'));
  // The profile itself is kept in a temp file: summarise it again if it is still there.
  const pf = results.profile;
  if (pf?.file && pf.window && existsSync(pf.file))
    Object.assign(pf, summarizeProfile(JSON.parse(readFileSync(pf.file, 'utf8')), 25, pf.window));
  console.log(renderConsole(results));
  if (!args['no-write']) {
    const out = args.out ? resolve(root, args.out) : join(root, 'docs/benchmarks.md');
    // The sections other scripts (and hand-written notes) own are kept, as in a measured run.
    const md = await renderMarkdown(results, root);
    const kept = keptSections(join(root, 'docs/benchmarks.md'));
    writeFileSync(out, kept ? `${md.trimEnd()}\n\n${kept}` : md);
    console.log(`wrote ${relative(root, out)}`);
  }
}

(args['from-json'] ? rerender(args['from-json']) : main()).then(
  () => finish(0),
  (err) => {
    console.error(`\nbenchmark failed: ${err?.stack ?? err}`);
    void finish(1);
  },
);

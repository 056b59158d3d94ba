import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { BEHAVIOURS, startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import {
  createTestDatabase,
  testKafkaBrokers,
  testUnleashUrl,
  type TestDatabase,
  waitFor,
} from '@aviary/testing';

// Production on one machine: the image's file set (built from the Dockerfile's runtime stage, with
// production dependencies only), run as separate processes the way the Helm chart runs them — the
// migration job, a control plane, two routers, an analyzer — against real PostgreSQL, Kafka and
// unleash-server, as an unprivileged user. Traffic through both routers; a rollout progresses, the
// candidate turns bad, the analyzer and control plane roll it back, and both routers follow.

const root = join(__dirname, '..');
const ADMIN_TOKEN = `topology-admin-${randomUUID()}`;
const ROUTER_SECRET = `topology-router-secret-${randomUUID()}`;
const MODEL = `topo-${randomUUID().slice(0, 8)}`;

/** Steps of a few seconds and small samples: the test must decide in about a minute. */
const PLAN = {
  steps: [
    { type: 'shadow', sampleRate: 1, minDurationSeconds: 3 },
    { type: 'setWeight', weight: 50, minDurationSeconds: 4 },
    { type: 'setWeight', weight: 100, minDurationSeconds: 60 },
    { type: 'bake', minDurationSeconds: 60 },
  ],
};
const GUARDRAILS = {
  refusalRate: { minSamples: 40, maxRelativeIncrease: 0.5 },
  errorRate: { minSamples: 40, maxRelativeIncrease: 3, absoluteCeiling: null },
  silentFailureRate: { minSamples: 40, maxRelativeIncrease: 3 },
  latencyP95: { minSamples: 40, maxRelativeIncrease: 2 },
  outputLengthDrop: { minSamples: 40 },
  thumbsDownRate: { minSamples: 5, onMissingData: 'ignore' },
};

interface Service {
  readonly name: string;
  readonly url: string;
  readonly proc: ChildProcess;
  output(): string;
}

let app: string;
let db: TestDatabase;
let baseline: DemoLlm;
let candidate: DemoLlm;
const services: Service[] = [];
let controlPlane: Service;
let routers: Service[];
/** The router API key the traffic in this test uses. */
let routerKey: string;
let traffic: { stop(): Promise<void>; served: Map<string, Set<string>> };

beforeAll(async () => {
  app = productionLayout();
  db = await createTestDatabase({ empty: true });
  baseline = await startDemoLlm({
    name: 'baseline',
    seed: 11,
    behaviour: { ...BEHAVIOURS.fine, latencyMs: 5 },
  });
  candidate = await startDemoLlm({
    name: 'candidate',
    seed: 12,
    behaviour: { ...BEHAVIOURS.fine, latencyMs: 5 },
  });

  // The Helm chart's migration Job, then the Deployments.
  const migrate = run(dockerCommand('control-plane', 'migrate'), { DATABASE_URL: db.url });
  expect(migrate.stdout).toMatch(/applied \d+ migration\(s\)/);

  controlPlane = await start('control-plane', dockerCommand('control-plane'), 'AVIARY_CONTROL_PLANE_PORT', {
    DATABASE_URL: db.url,
    AVIARY_ADMIN_TOKEN: ADMIN_TOKEN,
    UNLEASH_URL: testUnleashUrl(),
    UNLEASH_TIMEOUT_MS: '3000',
    AVIARY_BUILTIN_FLAGS: 'false',
    AVIARY_TICK_INTERVAL_MS: '250',
    AVIARY_FLAG_RETRY_INTERVAL_MS: '500',
  });
  await api('POST', '/api/v1/models', { name: MODEL });
  await api('POST', `/api/v1/models/${MODEL}/versions`, {
    label: 'v1',
    upstreamBaseUrl: baseline.url,
    upstreamModel: 'base-8b',
  });
  await api('POST', `/api/v1/models/${MODEL}/versions`, {
    label: 'v2-int8',
    upstreamBaseUrl: candidate.url,
    upstreamModel: 'base-8b-int8',
  });

  const kafka = {
    KAFKA_BROKERS: testKafkaBrokers().join(','),
  };
  await start('analyzer', dockerCommand('analyzer'), 'AVIARY_ANALYZER_PORT', {
    DATABASE_URL: db.url,
    ...kafka,
    AVIARY_ANALYZER_GROUP_ID: `aviary-topology-${randomUUID()}`,
    AVIARY_ANALYZER_FROM_BEGINNING: 'false',
    AVIARY_ANALYZER_BUCKET_SECONDS: '5',
  });
  // Routers read the split from Unleash and their API keys from the control plane (a viewer token).
  const viewer = await api<{ token: string }>('POST', '/api/v1/tokens', { name: 'routers', role: 'viewer' });
  routerKey = (await api<{ key: string }>('POST', '/api/v1/router-keys', { name: 'topology-traffic' })).key;
  routers = [];
  for (const name of ['router-a', 'router-b']) {
    const backup = join(app, '..', `${name}-flags`);
    mkdirSync(backup, { recursive: true });
    chmodSync(backup, 0o777);
    routers.push(
      await start(name, dockerCommand('router'), 'AVIARY_ROUTER_PORT', {
        ...kafka,
        AVIARY_FLAGS_URL: `${testUnleashUrl()}/api`,
        AVIARY_FLAGS_REFRESH_MS: '200',
        AVIARY_FLAGS_BACKUP_DIR: backup,
        AVIARY_ROUTER_SECRET: ROUTER_SECRET,
        AVIARY_EVENTS_LINGER_MS: '20',
        AVIARY_CONTROL_PLANE_URL: controlPlane.url,
        AVIARY_CONTROL_PLANE_TOKEN: viewer.token,
      }),
    );
  }
  traffic = startTraffic(routers);
}, 240_000);

afterAll(async () => {
  await traffic?.stop();
  for (const s of services.reverse()) await stop(s);
  await baseline?.close();
  await candidate?.close();
  await db?.drop();
  if (app) rmSync(join(app, '..'), { recursive: true, force: true });
}, 60_000);

it('runs the image file set as non-root processes, each ready', async () => {
  for (const s of services) {
    const ready = await fetch(`${s.url}/readyz`);
    expect({ service: s.name, status: ready.status }).toEqual({ service: s.name, status: 200 });
  }
  if (process.getuid?.() === 0) {
    for (const s of services) {
      const status = readFileSync(`/proc/${s.proc.pid}/status`, 'utf8');
      expect({ service: s.name, uid: /^Uid:\s+(\d+)/m.exec(status)?.[1] }).toEqual({
        service: s.name,
        uid: '65534',
      });
    }
  }
});

it('moves a rollout through shadow to 50% on both routers, then rolls a refusing candidate back on both', async () => {
  const created = await api<{ id: string }>('POST', '/api/v1/rollouts', {
    model: MODEL,
    candidateVersion: 'v2-int8',
    plan: PLAN,
    guardrails: GUARDRAILS,
    reason: 'production topology test',
  });
  const id = created.id;
  await api('POST', `/api/v1/rollouts/${id}/start`, {});

  // Shadow, then 50%: the analyzer's evidence (through Kafka) lets the control plane advance.
  await waitFor(
    'the rollout to reach 50%',
    async () => {
      const r = await api<{ phase: string; step: { index: number } }>('GET', `/api/v1/rollouts/${id}`);
      if (r.phase !== 'Progressing') throw new Error(`rollout left Progressing: ${JSON.stringify(r)}`);
      return r.step.index >= 1;
    },
    60_000,
  );
  // Both routers serve the candidate to some users.
  traffic.served.clear();
  await waitFor(
    'both routers to serve the candidate',
    () => Promise.resolve(routers.every((r) => traffic.served.get(r.name)?.has('v2-int8'))),
    20_000,
  );

  // The candidate starts refusing: the guardrail fails and Aviary rolls back on its own.
  candidate.setBehaviour('refusesMore');
  const rolledBackAt = await waitFor(
    'an automatic rollback',
    async () => {
      const r = await api<{ phase: string }>('GET', `/api/v1/rollouts/${id}`);
      return r.phase === 'RolledBack' ? Date.now() : null;
    },
    60_000,
  );
  const events = await api<{ items: { type: string; automatic: boolean; message: string }[] }>(
    'GET',
    `/api/v1/rollouts/${id}/events?limit=100`,
  );
  const rollback = events.items.find((e) => e.type === 'AutoRolledBack');
  expect(rollback?.automatic).toBe(true);
  expect(rollback?.message).toMatch(/refusal rate/);

  // Both routers serve only the baseline again: 40 different users each, all on v1.
  const reachedAll = await waitFor(
    'both routers to serve only the baseline',
    async () => {
      for (const r of routers) {
        const versions = await askMany(r, 40);
        if (versions.has('v2-int8')) return null;
      }
      return Date.now();
    },
    10_000,
  );
  process.stdout.write(
    `production topology: automatic rollback reached both routers ${reachedAll - rolledBackAt} ms after the control plane recorded it\n`,
  );
}, 180_000);

// ---------------------------------------------------------------------------------------------

/**
 * The Dockerfile's runtime stage as a directory: its COPY lines, with node_modules from
 * `npm ci --omit=dev` (what `npm prune --omit=dev` leaves in the image).
 */
function productionLayout(): string {
  if (!existsSync(join(root, 'dist/apps/router/src/main.js')))
    throw new Error('dist is missing: run `npm run build` (npm test does)');
  const base = mkdtempSync(join(tmpdir(), 'aviary-image-'));
  const target = join(base, 'app');
  mkdirSync(target);
  for (const { from, to } of dockerStage('runtime').copies) {
    if (from === 'node_modules') continue;
    cpSync(join(root, from), join(target, to), { recursive: true });
  }
  cpSync(join(root, 'package-lock.json'), join(target, 'package-lock.json'));
  const npm = spawnSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: target,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (npm.status !== 0) throw new Error(`npm ci --omit=dev failed:\n${npm.stderr}`);
  // Readable, not writable, by the unprivileged user the processes run as.
  spawnSync('chmod', ['-R', 'a+rX,go-w', base]);
  return target;
}

function dockerfile(): string {
  return readFileSync(join(root, 'Dockerfile'), 'utf8');
}

/** A stage's `COPY --from=build /src/X /app/Y` lines and its CMD. */
function dockerStage(name: string): { copies: { from: string; to: string }[]; cmd: string[] | null } {
  const stages = dockerfile().split(/^FROM /m);
  const stage = stages.find((s) => new RegExp(`^\\S+ AS ${name}\\s*$`, 'm').test(s.split('\n')[0] ?? ''));
  if (!stage) throw new Error(`Dockerfile has no stage ${name}`);
  const copies = [...stage.matchAll(/^COPY --from=build \/src\/(\S+) \/app\/(\S+)$/gm)].map((m) => ({
    from: m[1]!,
    to: m[2]!,
  }));
  const cmd = /^CMD (\[.*\])$/m.exec(stage)?.[1];
  return { copies, cmd: cmd ? (JSON.parse(cmd) as string[]) : null };
}

/** The command the image runs for `target` (the migration Job overrides the control plane's). */
function dockerCommand(target: string, job?: 'migrate'): string[] {
  if (job === 'migrate') return ['node', 'dist/apps/control-plane/src/cli/migrate.js'];
  const cmd = dockerStage(target).cmd;
  if (!cmd) throw new Error(`Dockerfile stage ${target} has no CMD`);
  return cmd;
}

function processEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: tmpdir(),
    NODE_ENV: 'production',
    AVIARY_BIND_HOST: '127.0.0.1',
    AVIARY_LOG_LEVEL: 'warn',
    ...env,
  };
}

const asUser = () => (process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {});

function run(cmd: string[], env: Record<string, string>) {
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: app,
    env: processEnv(env),
    encoding: 'utf8',
    timeout: 60_000,
    ...asUser(),
  });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function start(
  name: string,
  cmd: string[],
  portVar: string,
  env: Record<string, string>,
): Promise<Service> {
  const port = await freePort();
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: app,
    env: processEnv({ ...env, [portVar]: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...asUser(),
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const service: Service = { name, url: `http://127.0.0.1:${port}`, proc, output: () => out };
  services.push(service);
  await waitFor(
    `${name} to be ready`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}:\n${out}`);
      const res = await fetch(`${service.url}/readyz`).catch(() => null);
      return res?.status === 200;
    },
    60_000,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}\n--- ${name} output:\n${out}`);
  });
  return service;
}

async function stop(s: Service): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const exited = new Promise((resolve) => s.proc.once('exit', resolve));
  s.proc.kill('SIGTERM');
  const timer = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function api<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${controlPlane.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

const clients = new Map<string, OpenAI>();
function client(router: Service): OpenAI {
  let c = clients.get(router.name);
  if (!c) {
    c = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: routerKey, maxRetries: 0, timeout: 10_000 });
    clients.set(router.name, c);
  }
  return c;
}

async function ask(router: Service, user: string): Promise<string | null> {
  const { response } = await client(router)
    .chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: `Question from ${user}` }],
      user,
    })
    .withResponse();
  return response.headers.get('x-aviary-model-version');
}

async function askMany(router: Service, n: number): Promise<Set<string>> {
  const versions = await Promise.all(
    Array.from({ length: n }, (_, i) => ask(router, `probe-${router.name}-${i}-${Date.now()}`)),
  );
  return new Set(versions.filter((v): v is string => v !== null));
}

/** Users asking through both routers, about 60 requests per second in all. */
function startTraffic(targets: Service[]) {
  const served = new Map<string, Set<string>>();
  let running = true;
  let n = 0;
  const loops = targets.flatMap((router) =>
    [0, 1, 2].map(async (lane) => {
      while (running) {
        const user = `user-${lane}-${n++ % 400}`;
        const version = await ask(router, user).catch(() => null);
        if (version) {
          const set = served.get(router.name) ?? new Set<string>();
          set.add(version);
          served.set(router.name, set);
        }
        await new Promise((r) => setTimeout(r, 40));
      }
    }),
  );
  return {
    served,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

import { Client } from 'pg';
import type { DestinationStream } from 'pino';
import { createTestDatabase } from '@aviary/testing';
import { loadControlPlaneConfig } from '../src/config/control-plane.config';
import { type RunningControlPlane, startControlPlane } from '../src/control-plane';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface ApiResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
  readonly contentType: string;
}

export interface TestControlPlane {
  readonly url: string;
  readonly databaseUrl: string;
  readonly cp: RunningControlPlane;
  dropDatabase(): Promise<void>;
  /** JSON request with the admin token unless `token` says otherwise (null: no Authorization header). */
  api<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts?: { token?: string | null; headers?: Record<string, string>; raw?: string },
  ): Promise<ApiResponse<T>>;
  close(): Promise<void>;
}

/** A control plane on its own fresh PostgreSQL database, listening on a free port. */
export async function startTestControlPlane(
  env: Record<string, string> = {},
  opts: { keepDatabase?: TestControlPlane; logDestination?: DestinationStream } = {},
): Promise<TestControlPlane> {
  const db = opts.keepDatabase
    ? { url: opts.keepDatabase.databaseUrl, drop: () => opts.keepDatabase!.dropDatabase() }
    : await createTestDatabase();
  let cp: RunningControlPlane;
  try {
    cp = await startControlPlane(
      loadControlPlaneConfig({
        DATABASE_URL: db.url,
        AVIARY_CONTROL_PLANE_PORT: '0',
        AVIARY_ADMIN_TOKEN: ADMIN_TOKEN,
        AVIARY_LOG_LEVEL: 'warn',
        AVIARY_TICK_INTERVAL_MS: '200',
        AVIARY_FLAG_RETRY_INTERVAL_MS: '300',
        ...env,
      }),
      opts.logDestination ? { logDestination: opts.logDestination } : {},
    );
  } catch (err) {
    await db.drop();
    throw err;
  }
  const api: TestControlPlane['api'] = async (method, path, body, opts = {}) => {
    const token = opts.token === undefined ? ADMIN_TOKEN : opts.token;
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    const payload = opts.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    if (payload !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const res = await fetch(`${cp.url}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    const text = await res.text();
    const contentType = res.headers.get('content-type') ?? '';
    let parsed: unknown = text;
    if (/json/.test(contentType) && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as never, contentType };
  };
  return {
    url: cp.url,
    databaseUrl: db.url,
    cp,
    api,
    dropDatabase: () => db.drop(),
    close: async () => {
      await cp.close();
      await db.drop();
    },
  };
}

/** Registers a model with a baseline and a candidate version; returns their ids. */
export async function seedModel(t: TestControlPlane, name = `m-${Math.random().toString(36).slice(2, 8)}`) {
  const model = await t.api('POST', '/api/v1/models', { name });
  // 409 when an earlier seed in this control plane declared it already.
  await t.api('POST', '/api/v1/credentials', { name: 'baseline-api-key', allowedHosts: ['127.0.0.1:9'] });
  if (model.status !== 201) throw new Error(`seed model: ${model.status} ${JSON.stringify(model.body)}`);
  const v1 = await t.api<{ id: string }>('POST', `/api/v1/models/${name}/versions`, {
    label: 'v1',
    upstreamBaseUrl: 'http://127.0.0.1:9/v1',
    upstreamModel: 'base-8b',
    apiKeyRef: 'baseline-api-key',
  });
  const v2 = await t.api<{ id: string }>('POST', `/api/v1/models/${name}/versions`, {
    label: 'v2-int8',
    upstreamBaseUrl: 'http://127.0.0.1:9/v1',
    upstreamModel: 'base-8b-int8',
    timeoutMs: 30_000,
    metadata: { quantization: 'int8' },
  });
  if (v1.status !== 201 || v2.status !== 201) throw new Error(`seed versions: ${v1.status} ${v2.status}`);
  return { name, baselineId: v1.body.id, candidateId: v2.body.id };
}

/** A plan whose steps take `seconds` each: shadow, 5, 20, 50, 100, bake. */
export function fastPlan(seconds: number) {
  return {
    steps: [
      { type: 'shadow', sampleRate: 0.5, minDurationSeconds: seconds },
      { type: 'setWeight', weight: 5, minDurationSeconds: seconds },
      { type: 'setWeight', weight: 20, minDurationSeconds: seconds },
      { type: 'setWeight', weight: 50, minDurationSeconds: seconds },
      { type: 'setWeight', weight: 100, minDurationSeconds: seconds },
      { type: 'bake', minDurationSeconds: seconds },
    ],
  };
}

/** Everything the API stores, to prove a rejected request changed nothing. */
export async function databaseSnapshot(databaseUrl: string): Promise<string> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const out: Record<string, unknown> = {};
    for (const table of [
      'models',
      'model_versions',
      'rollouts',
      'rollout_events',
      'api_tokens',
      'flag_publications',
      'upstream_credentials',
    ]) {
      out[table] = (await c.query(`SELECT * FROM ${table} ORDER BY 1`)).rows;
    }
    return JSON.stringify(out);
  } finally {
    await c.end();
  }
}

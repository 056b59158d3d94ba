import { connect } from 'node:net';
import {
  databaseSnapshot,
  fastPlan,
  seedModel,
  startTestControlPlane,
  type TestControlPlane,
} from './harness';

type Problem = { status: number; code: string; detail: string; errors?: { field: string }[] };
type Ids = { model: string; rollout: string };

const NUL = '\u0000';
const version = { label: 'v9', upstreamBaseUrl: 'http://127.0.0.1:9/v1', upstreamModel: 'm' };

/** Every free-text field the admin API stores, with a NUL in it: PostgreSQL cannot store one. */
// prettier-ignore
const nulCases: { name: string; path: (i: Ids) => string; body: (i: Ids) => unknown; field: string }[] = [
  { name: 'model name', path: () => '/api/v1/models', body: () => ({ name: `a${NUL}b` }), field: 'name' },
  { name: 'model description', path: () => '/api/v1/models', body: () => ({ name: 'nul-desc', description: `x${NUL}` }), field: 'description' },
  { name: 'version label', path: (i) => `/api/v1/models/${i.model}/versions`, body: () => ({ ...version, label: `v${NUL}` }), field: 'label' },
  { name: 'version upstream model', path: (i) => `/api/v1/models/${i.model}/versions`, body: () => ({ ...version, upstreamModel: `m${NUL}` }), field: 'upstreamModel' },
  { name: 'version upstream URL', path: (i) => `/api/v1/models/${i.model}/versions`, body: () => ({ ...version, upstreamBaseUrl: `http://a${NUL}b/v1` }), field: 'upstreamBaseUrl' },
  { name: 'version apiKeyRef', path: (i) => `/api/v1/models/${i.model}/versions`, body: () => ({ ...version, apiKeyRef: `k${NUL}` }), field: 'apiKeyRef' },
  { name: 'version metadata value', path: (i) => `/api/v1/models/${i.model}/versions`, body: () => ({ ...version, metadata: { note: `n${NUL}` } }), field: 'metadata.note' },
  { name: 'version metadata key', path: (i) => `/api/v1/models/${i.model}/versions`, body: () => ({ ...version, metadata: { [`k${NUL}`]: 1 } }), field: 'metadata' },
  { name: 'rollout model', path: () => '/api/v1/rollouts', body: (i) => ({ model: `${i.model}${NUL}`, candidateVersion: 'v2-int8' }), field: 'model' },
  { name: 'rollout candidate', path: () => '/api/v1/rollouts', body: (i) => ({ model: i.model, candidateVersion: `v2${NUL}` }), field: 'candidateVersion' },
  { name: 'rollout reason', path: () => '/api/v1/rollouts', body: (i) => ({ model: i.model, candidateVersion: 'v2-int8', reason: `r${NUL}` }), field: 'reason' },
  { name: 'rollout golden set', path: () => '/api/v1/rollouts', body: (i) => ({ model: i.model, candidateVersion: 'v2-int8', goldenSet: `{"id":"a${NUL}","messages":[]}` }), field: 'goldenSet' },
  { name: 'start reason', path: (i) => `/api/v1/rollouts/${i.rollout}/start`, body: () => ({ reason: `r${NUL}` }), field: 'reason' },
  { name: 'promote reason', path: (i) => `/api/v1/rollouts/${i.rollout}/promote`, body: () => ({ reason: `r${NUL}` }), field: 'reason' },
  { name: 'rollback reason', path: (i) => `/api/v1/rollouts/${i.rollout}/rollback`, body: () => ({ reason: `r${NUL}` }), field: 'reason' },
  { name: 'model kill-switch reason', path: (i) => `/api/v1/models/${i.model}/rollback`, body: () => ({ reason: `r${NUL}` }), field: 'reason' },
  { name: 'token name', path: () => '/api/v1/tokens', body: () => ({ name: `t${NUL}`, role: 'viewer' }), field: 'name' },
  { name: 'credential description', path: () => '/api/v1/credentials', body: () => ({ name: 'nul-cred', allowedHosts: ['a.test'], description: `d${NUL}` }), field: 'description' },
];

describe('hostile input to the admin API', () => {
  let t: TestControlPlane;
  let ids: Ids;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual', AVIARY_MAX_BODY_BYTES: '262144' });
    const m = await seedModel(t);
    const other = await seedModel(t);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: other.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    ids = { model: m.name, rollout: r.body.id };
  });
  afterAll(async () => t?.close());

  async function expectRefused(
    call: () => Promise<{ status: number; contentType: string; body: unknown }>,
    status: number,
    field?: string,
  ): Promise<Problem> {
    const before = await databaseSnapshot(t.databaseUrl);
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.contentType).toContain('application/problem+json');
    const problem = res.body as Problem;
    if (field !== undefined) expect((problem.errors ?? []).map((e) => e.field)).toContain(field);
    expect(await databaseSnapshot(t.databaseUrl)).toBe(before);
    return problem;
  }

  it.each(nulCases)('refuses a NUL in the $name with 400 naming $field', async (c) => {
    await expectRefused(() => t.api('POST', c.path(ids), c.body(ids)), 400, c.field);
  });

  it.each([
    ['a model name', '/api/v1/models/a%00b'],
    ['a version label', () => `/api/v1/models/${ids.model}/versions/v%00`],
    ['a query parameter', '/api/v1/rollouts?model=a%00b'],
    ['a status page path', '/status/api/rollouts/%00'],
  ] as const)('refuses a NUL in %s with 400', async (_what, path) => {
    await expectRefused(() => t.api('GET', typeof path === 'function' ? path() : path), 400);
  });

  it('refuses metadata nested 5,000 deep with 400 naming where it got too deep', async () => {
    const deep = `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`;
    const raw = JSON.stringify({ ...version, label: 'v-deep' }).replace(/}$/, `,"metadata":${deep}}`);
    const problem = await expectRefused(
      () => t.api('POST', `/api/v1/models/${ids.model}/versions`, undefined, { raw }),
      400,
    );
    expect(problem.errors?.[0]?.field).toMatch(/^metadata(\.a)+$/);
  });

  it('refuses valid JSON 20,000 levels deep with 400, not a reset connection', async () => {
    const raw = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    await expectRefused(() => t.api('POST', '/api/v1/models', undefined, { raw }), 400);
  });

  it('refuses an events cursor beyond a 64-bit id with 400 naming it', async () => {
    await expectRefused(
      () => t.api('GET', `/api/v1/rollouts/${ids.rollout}/events?after=99999999999999999999999`),
      400,
      'after',
    );
  });

  it('refuses a __proto__ key instead of dropping it', async () => {
    const raw = JSON.stringify({ ...version, label: 'v-proto' }).replace(
      /}$/,
      ',"metadata":{"ok":1,"__proto__":{"polluted":true}}}',
    );
    await expectRefused(
      () => t.api('POST', `/api/v1/models/${ids.model}/versions`, undefined, { raw }),
      400,
      'metadata.__proto__',
    );
  });

  it('answers malformed JSON with MALFORMED_JSON, and a request without a token with 401 first', async () => {
    const problem = await expectRefused(
      () => t.api('POST', '/api/v1/models', undefined, { raw: '{"name": "a",' }),
      400,
    );
    expect(problem.code).toBe('MALFORMED_JSON');
    const anonymous = await expectRefused(
      () => t.api('POST', '/api/v1/models', undefined, { raw: '{"name": "a",', token: null }),
      401,
    );
    expect(anonymous.code).toBe('UNAUTHENTICATED');
  });

  it('answers headers over node’s limit with 431 problem+json naming them, not an empty body', async () => {
    const res = await fetch(`${t.url}/api/v1/models`, { headers: { 'x-big': 'u'.repeat(20_000) } });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const problem = (await res.json()) as Problem;
    expect(problem).toMatchObject({ status: 431, code: 'REQUEST_HEADERS_TOO_LARGE' });
    expect(problem.errors?.map((e) => e.field)).toEqual(['headers']);
  });

  it('answers bytes that are not HTTP with 400 problem+json', async () => {
    const { port, hostname } = new URL(t.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => socket.write('HELLO THERE\r\n\r\n'));
      let got = '';
      socket.on('data', (c: Buffer) => (got += c.toString()));
      socket.on('close', () => resolve(got));
      socket.on('error', reject);
    });
    const [head = '', body = ''] = answer.split('\r\n\r\n', 2);
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('content-type: application/problem+json');
    expect(JSON.parse(body)).toMatchObject({ status: 400, code: 'MALFORMED_HTTP' });
  });

  it('accepts a golden set larger than the general body limit (up to the schema’s 2,000,000 characters)', async () => {
    const m = await seedModel(t);
    const line = JSON.stringify({
      id: 'x',
      messages: [{ role: 'user', content: 'q'.repeat(900) }],
      mustContain: ['a'],
    });
    const lines = Array.from({ length: 1_000 }, (_, i) => line.replace('"x"', `"item-${i}"`));
    const goldenSet = lines.join('\n');
    expect(goldenSet.length).toBeGreaterThan(900_000);
    const res = await t.api('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      goldenSet,
    });
    expect(res.status).toBe(201);
  });

  it('registers a new model’s first versions in parallel without a deadlock: every one 201, one stable', async () => {
    for (let trial = 0; trial < 3; trial++) {
      const name = `race-${trial}-${Math.random().toString(36).slice(2, 7)}`;
      expect((await t.api('POST', '/api/v1/models', { name })).status).toBe(201);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.api('POST', `/api/v1/models/${name}/versions`, { ...version, label: `v${i}` }),
        ),
      );
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(201));
      const model = await t.api<{ versions: { status: string }[]; stableVersion: unknown }>(
        'GET',
        `/api/v1/models/${name}`,
      );
      expect(model.body.versions).toHaveLength(10);
      expect(model.body.versions.filter((v) => v.status === 'stable')).toHaveLength(1);
      expect(model.body.stableVersion).not.toBeNull();
    }
  });
});

describe('the status page', () => {
  let t: TestControlPlane;
  let viewer: string;
  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    viewer = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'pm', role: 'viewer' })).body
      .token;
  });
  afterAll(async () => t?.close());

  const login = (headers: Record<string, string>) =>
    fetch(`${t.url}/status/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ token: viewer, next: '/status' }).toString(),
    });

  it('refuses a sign-in posted from another site (login CSRF)', async () => {
    const cross = await login({ origin: 'https://evil.example' });
    expect(cross.status).toBe(403);
    expect(cross.headers.get('set-cookie')).toBeNull();
    const metadataOnly = await login({ 'sec-fetch-site': 'cross-site' });
    expect(metadataOnly.status).toBe(403);
    // A cross-site page can hide its origin (no-referrer): an opaque origin is refused too.
    const opaque = await login({ origin: 'null' });
    expect(opaque.status).toBe(403);
    const own = await login({ origin: new URL(t.url).origin });
    expect(own.status).toBe(303);
    expect(own.headers.get('set-cookie')).toContain('aviary_status=');
  });

  it('marks the JSON with prompts and answers as not to be stored by caches', async () => {
    const res = await fetch(`${t.url}/status/api/overview`, {
      headers: { authorization: `Bearer ${viewer}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

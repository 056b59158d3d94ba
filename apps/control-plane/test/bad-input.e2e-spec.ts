import {
  databaseSnapshot as snapshot,
  fastPlan,
  seedModel,
  startTestControlPlane,
  type TestControlPlane,
} from './harness';

type Case = {
  name: string;
  method: string;
  path: string | ((ids: Ids) => string);
  body?: unknown;
  raw?: string;
  contentType?: string;
  status: number;
  field?: string;
};
type Ids = { model: string; rollout: string };

const huge = 'x'.repeat(400_000);

// prettier-ignore
const cases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/api/v1/models', raw: '{"name": "a",', status: 400 },
  { name: 'JSON that is not an object', method: 'POST', path: '/api/v1/models', raw: '[1,2,3]', status: 400 },
  { name: 'a null body', method: 'POST', path: '/api/v1/models', raw: 'null', status: 400 },
  { name: 'no body at all', method: 'POST', path: '/api/v1/models', status: 400 },
  { name: 'a body that is not JSON', method: 'POST', path: '/api/v1/models', raw: 'name=a', contentType: 'application/x-www-form-urlencoded', status: 400 },
  { name: 'a huge body', method: 'POST', path: '/api/v1/models', raw: JSON.stringify({ name: 'a', description: huge }), status: 413 },
  { name: 'a wrong type', method: 'POST', path: '/api/v1/models', body: { name: 42 }, status: 400, field: 'name' },
  { name: 'an unknown field', method: 'POST', path: '/api/v1/models', body: { name: 'ok-name', colour: 'blue' }, status: 400, field: 'colour' },
  { name: 'an invalid model name', method: 'POST', path: '/api/v1/models', body: { name: '../etc/passwd' }, status: 400, field: 'name' },
  { name: 'a duplicate model', method: 'POST', path: '/api/v1/models', body: undefined, status: 409 },
  { name: 'a version with a non-http upstream', method: 'POST', path: (i) => `/api/v1/models/${i.model}/versions`, body: { label: 'v7', upstreamBaseUrl: 'file:///etc/passwd', upstreamModel: 'x' }, status: 400, field: 'upstreamBaseUrl' },
  { name: 'a version with a negative timeout', method: 'POST', path: (i) => `/api/v1/models/${i.model}/versions`, body: { label: 'v7', upstreamBaseUrl: 'http://a/v1', upstreamModel: 'x', timeoutMs: -5 }, status: 400, field: 'timeoutMs' },
  { name: 'a duplicate version label', method: 'POST', path: (i) => `/api/v1/models/${i.model}/versions`, body: { label: 'v1', upstreamBaseUrl: 'http://a/v1', upstreamModel: 'x' }, status: 409 },
  { name: 'a version of an unknown model', method: 'POST', path: '/api/v1/models/no-such-model/versions', body: { label: 'v7', upstreamBaseUrl: 'http://a/v1', upstreamModel: 'x' }, status: 404 },
  { name: 'a weight above 100', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].weight' },
  { name: 'a negative weight', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].weight' },
  { name: 'decreasing weights', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[2].weight' },
  { name: 'a plan that never reaches 100%', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps' },
  { name: 'an unknown step type', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[0].type' },
  { name: 'a shadow sample rate of 2', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[0].sampleRate' },
  { name: 'a weight of 0 without a cohort', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].weight' },
  { name: 'a cohort-only step without a progress deadline', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].maxDurationSeconds' },
  { name: 'a cohort-only step that holds at its deadline', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].onDeadline' },
  { name: 'a deadline grace on a step that holds at its deadline', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].deadlineGraceSeconds' },
  { name: 'a negative deadline grace', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].deadlineGraceSeconds' },
  { name: 'a cohort header that is not an x- header', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].cohort.header.name' },
  { name: 'a cohort constraint with an unknown operator', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.steps[1].cohort.constraints[0].operator' },
  { name: 'an unknown guardrail', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'guardrails.vibes' },
  { name: 'a holdback of 80%', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'plan.holdbackPercent' },
  { name: 'a negative feedback window', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'guardrails.thumbsDownRate.feedbackWindowSeconds' },
  { name: 'a feedback window on a guardrail without ratings', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 400, field: 'guardrails.refusalRate.feedbackWindowSeconds' },
  { name: 'a rollout of an unknown version', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 404, field: 'candidateVersion' },
  { name: 'a rollout of the stable version', method: 'POST', path: '/api/v1/rollouts', body: (null), status: 409, field: 'candidateVersion' },
  { name: 'an unknown rollout id', method: 'POST', path: '/api/v1/rollouts/00000000-0000-4000-8000-000000000000/promote', status: 404 },
  { name: 'a rollout id that is not a uuid', method: 'GET', path: '/api/v1/rollouts/../../etc', status: 404 },
  { name: 'a rollback without a reason', method: 'POST', path: (i) => `/api/v1/rollouts/${i.rollout}/rollback`, body: {}, status: 400, field: 'reason' },
  { name: 'a rollback with a blank reason', method: 'POST', path: (i) => `/api/v1/rollouts/${i.rollout}/rollback`, body: { reason: '   ' }, status: 400, field: 'reason' },
  { name: 'promote with full as a string', method: 'POST', path: (i) => `/api/v1/rollouts/${i.rollout}/promote`, body: { full: 'yes' }, status: 400, field: 'full' },
  { name: 'a malformed If-Match', method: 'POST', path: (i) => `/api/v1/rollouts/${i.rollout}/pause`, body: {}, status: 400, field: 'If-Match' },
  { name: 'a stale If-Match', method: 'POST', path: (i) => `/api/v1/rollouts/${i.rollout}/pause`, body: {}, status: 409 },
  { name: 'a bad limit', method: 'GET', path: '/api/v1/rollouts?limit=-1', status: 400, field: 'limit' },
  { name: 'an unknown query parameter', method: 'GET', path: '/api/v1/rollouts?colour=blue', status: 400, field: 'colour' },
  { name: 'an unknown route', method: 'GET', path: '/api/v1/nothing-here', status: 404 },
  { name: 'a method the collection does not take', method: 'DELETE', path: '/api/v1/models', status: 405 },
  { name: 'a GET on an action that takes POST', method: 'GET', path: (i) => `/api/v1/rollouts/${i.rollout}/promote`, status: 405 },
  { name: 'a router key with a budget of 0 tokens', method: 'POST', path: '/api/v1/router-keys', body: { name: 'zero-budget', tokensPerDay: 0 }, status: 400, field: 'tokensPerDay' },
  { name: 'a router key whose force permission is not a boolean', method: 'POST', path: '/api/v1/router-keys', body: { name: 'force-yes', mayForceVersion: 'yes' }, status: 400, field: 'mayForceVersion' },
  { name: 'a usage report without an id', method: 'POST', path: '/api/router/key-usage', body: { usage: [] }, status: 400, field: 'reportId' },
  { name: 'a usage report of a day that does not exist', method: 'POST', path: '/api/router/key-usage', body: { reportId: '00000000-0000-4000-8000-000000000001', usage: [{ keyId: '00000000-0000-4000-8000-000000000002', day: '2026-02-30', tokens: 1, requests: 1 }] }, status: 400, field: 'usage[0].day' },
  { name: 'a usage report with negative tokens', method: 'POST', path: '/api/router/key-usage', body: { reportId: '00000000-0000-4000-8000-000000000001', usage: [{ keyId: '00000000-0000-4000-8000-000000000002', day: '2026-12-02', tokens: -5, requests: 1 }] }, status: 400, field: 'usage[0].tokens' },
];

function rolloutBody(model: string, variant: string): unknown {
  const steps = fastPlan(60).steps as Array<Record<string, unknown>>;
  const plan = (mutate: (s: Array<Record<string, unknown>>) => void) => {
    const copy = steps.map((s) => ({ ...s }));
    mutate(copy);
    return { model, candidateVersion: 'v2-int8', plan: { steps: copy } };
  };
  switch (variant) {
    case 'a weight above 100':
      return plan((s) => {
        s[1]!['weight'] = 150;
      });
    case 'a negative weight':
      return plan((s) => {
        s[1]!['weight'] = -5;
      });
    case 'decreasing weights':
      return plan((s) => {
        s[2]!['weight'] = 3;
      });
    case 'a plan that never reaches 100%':
      return plan((s) => {
        s.splice(4, 2);
      });
    case 'an unknown step type':
      return plan((s) => {
        s[0]!['type'] = 'yolo';
      });
    case 'a shadow sample rate of 2':
      return plan((s) => {
        s[0]!['sampleRate'] = 2;
      });
    case 'a weight of 0 without a cohort':
      return plan((s) => {
        s[1]!['weight'] = 0;
      });
    case 'a cohort-only step without a progress deadline':
      return plan((s) => {
        Object.assign(s[1]!, { weight: 0, cohort: { userIds: ['alice'] } });
      });
    case 'a cohort-only step that holds at its deadline':
      return plan((s) => {
        Object.assign(s[1]!, {
          weight: 0,
          cohort: { userIds: ['alice'] },
          maxDurationSeconds: 7200,
          onDeadline: 'hold',
        });
      });
    case 'a deadline grace on a step that holds at its deadline':
      return plan((s) => {
        Object.assign(s[1]!, { maxDurationSeconds: 7200, onDeadline: 'hold', deadlineGraceSeconds: 3600 });
      });
    case 'a negative deadline grace':
      return plan((s) => {
        Object.assign(s[1]!, { maxDurationSeconds: 7200, onDeadline: 'rollback', deadlineGraceSeconds: -1 });
      });
    case 'a cohort header that is not an x- header':
      return plan((s) => {
        s[1]!['cohort'] = { header: { name: 'Cookie', value: 'internal' } };
      });
    case 'a cohort constraint with an unknown operator':
      return plan((s) => {
        s[1]!['cohort'] = { constraints: [{ contextName: 'x-team', operator: 'LIKE', values: ['ml'] }] };
      });
    case 'an unknown guardrail':
      return { model, candidateVersion: 'v2-int8', guardrails: { vibes: { enabled: true } } };
    case 'a holdback of 80%':
      return { model, candidateVersion: 'v2-int8', plan: { steps, holdbackPercent: 80 } };
    case 'a negative feedback window':
      return {
        model,
        candidateVersion: 'v2-int8',
        guardrails: { thumbsDownRate: { feedbackWindowSeconds: -1 } },
      };
    case 'a feedback window on a guardrail without ratings':
      return {
        model,
        candidateVersion: 'v2-int8',
        guardrails: { refusalRate: { feedbackWindowSeconds: 60 } },
      };
    case 'a rollout of an unknown version':
      return { model, candidateVersion: 'v404' };
    case 'a rollout of the stable version':
      return { model, candidateVersion: 'v1' };
    default:
      throw new Error(variant);
  }
}

describe('bad input', () => {
  let t: TestControlPlane;
  let ids: Ids;

  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual', AVIARY_MAX_BODY_BYTES: '262144' });
    const m = await seedModel(t);
    // A second model with a Pending rollout, so rollout-creation cases do not collide with it.
    const other = await seedModel(t);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: other.name,
      candidateVersion: 'v2-int8',
    });
    ids = { model: m.name, rollout: r.body.id };
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(cases)('rejects $name with $status problem+json and changes nothing', async (c) => {
    const before = await snapshot(t.databaseUrl);
    const path = typeof c.path === 'function' ? c.path(ids) : c.path;
    let body = c.body;
    if (c.name === 'a duplicate model') body = { name: ids.model };
    if (body === null) body = rolloutBody(ids.model, c.name);
    const headers: Record<string, string> = {};
    if (c.contentType) headers['content-type'] = c.contentType;
    if (c.name === 'a malformed If-Match') headers['if-match'] = 'banana';
    if (c.name === 'a stale If-Match') headers['if-match'] = '"999"';
    const res = await t.api<{ status: number; detail: string; errors?: Array<{ field: string }> }>(
      c.method,
      path,
      body,
      {
        headers,
        ...(c.raw !== undefined ? { raw: c.raw } : {}),
      },
    );
    expect(res.status).toBe(c.status);
    expect(res.contentType).toContain('application/problem+json');
    expect(res.body.status).toBe(c.status);
    expect(typeof res.body.detail).toBe('string');
    if (c.field) {
      const named = [...(res.body.errors ?? []).map((e) => e.field), (res.body as { field?: string }).field];
      expect(named).toContain(c.field);
    }
    expect(await snapshot(t.databaseUrl)).toBe(before);
  });

  it('answers a wrong method with 405 and the methods the path takes, a path nobody routes with 404', async () => {
    const wrong = await t.api<{ code: string; detail: string }>(
      'PUT',
      `/api/v1/rollouts/${ids.rollout}/promote`,
    );
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect(wrong.body.code).toBe('METHOD_NOT_ALLOWED');
    expect(wrong.body.detail).toMatch(/takes POST, not PUT/);
    const models = await t.api('PATCH', '/api/v1/models');
    expect(models.headers.get('allow')).toBe('GET, HEAD, POST');
    const nowhere = await t.api<{ code: string }>('PUT', '/api/v1/nothing-here');
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('allow')).toBeNull();
  });

  it('survives a burst of random garbage without a 5xx', async () => {
    const rng = mulberry32(42);
    const paths = [
      '/api/v1/models',
      `/api/v1/models/${ids.model}/versions`,
      '/api/v1/rollouts',
      `/api/v1/rollouts/${ids.rollout}/promote`,
      `/api/v1/rollouts/${ids.rollout}/rollback`,
      '/api/v1/tokens',
    ];
    const before = await snapshot(t.databaseUrl);
    for (let i = 0; i < 200; i++) {
      const path = paths[Math.floor(rng() * paths.length)]!;
      const res = await t.api('POST', path, undefined, { raw: randomJsonish(rng) });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
    expect(await snapshot(t.databaseUrl)).toBe(before);
  });
});

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Values of the wrong shape and type in plausible places, plus broken syntax. */
function randomJsonish(rng: () => number): string {
  const atoms = [
    null,
    true,
    -1,
    0,
    1e308,
    101,
    -0.5,
    '',
    ' ',
    '💥',
    'a'.repeat(3000),
    [],
    {},
    [1, 'x'],
    { weight: -5 },
    '__proto__',
  ];
  const keys = [
    'name',
    'label',
    'model',
    'candidateVersion',
    'plan',
    'reason',
    'full',
    'role',
    'steps',
    'upstreamBaseUrl',
    'timeoutMs',
    '__proto__',
    'constructor',
  ];
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const obj: Record<string, unknown> = {};
  for (let k = 0; k < 1 + Math.floor(rng() * 4); k++) obj[pick(keys)] = pick(atoms);
  const text = JSON.stringify(obj);
  return rng() < 0.2 ? text.slice(0, Math.floor(rng() * text.length)) : text;
}

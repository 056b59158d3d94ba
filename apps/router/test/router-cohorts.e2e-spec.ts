import OpenAI from 'openai';
import { testUnleashUrl, waitFor } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// A control plane publishing to a real unleash-server, a router reading it with unleash-client.
jest.setTimeout(90_000);

const internal = { header: { name: 'x-aviary-cohort', value: 'internal' } };
const users = Array.from({ length: 100 }, (_, i) => `cohort-user-${i}`);

describe('cohorts and forced versions through a real unleash-server', () => {
  let s: Stack;
  let debugKey: string;

  beforeAll(async () => {
    s = await startStack({ AVIARY_FORCE_VERSION_KEYS: 'debugger' }, { unleashUrl: testUnleashUrl() });
    debugKey = (await s.createKey('debugger')).key;
  });
  afterAll(async () => {
    await s?.close();
  });

  /** Which version served each user, asked with the OpenAI SDK. */
  // A few at a time: an overloaded demo model would time out and fall back to the baseline.
  const versions = async (headers: Record<string, string> = {}) => {
    const served: (string | null)[] = [];
    for (let i = 0; i < users.length; i += 8) {
      const batch = users.slice(i, i + 8).map(async (user) => {
        const { response } = await s.openai.chat.completions
          .create({ model: s.model, messages: [{ role: 'user', content: 'hi' }], user }, { headers })
          .withResponse();
        return response.headers.get('x-aviary-model-version');
      });
      served.push(...(await Promise.all(batch)));
    }
    return served;
  };
  /**
   * The publisher writes a flag's strategies one admin call at a time, so a poll between two calls
   * can see the new revision before the cohort's strategy: wait until the router serves it.
   */
  const cohortSeen = async () => {
    await waitFor(
      'the router to serve the cohort the candidate',
      async () => {
        const { response } = await s.openai.chat.completions
          .create(
            { model: s.model, messages: [{ role: 'user', content: 'probe' }], user: 'cohort-probe' },
            { headers: { 'x-aviary-cohort': 'internal' } },
          )
          .withResponse();
        return response.headers.get('x-aviary-model-version') === 'v2';
      },
      15_000,
      100,
    );
    // The probes' outcomes are recorded after their answers: let them land before counting afresh.
    await new Promise((r) => setTimeout(r, 500));
  };
  const share = (served: readonly (string | null)[]) =>
    served.filter((v) => v === 'v2').length / served.length;

  it('serves the cohort the candidate first, and everyone else the baseline', async () => {
    const id = await s.rollout([step.weight(0, internal), step.weight(20, internal), step.weight(100)]);
    const strategies = await fetch(
      `${testUnleashUrl()}/api/admin/projects/default/features/aviary.model.${s.model}/environments/development`,
    ).then((r) => r.json() as Promise<{ strategies: { title: string; constraints: unknown[] }[] }>);
    expect(strategies.strategies.map((x) => x.title)).toEqual(['aviary cohort', 'aviary baseline']);

    await cohortSeen();
    s.outcomes.length = 0;
    expect(share(await versions({ 'x-aviary-cohort': 'internal' }))).toBe(1);
    expect(share(await versions({ 'x-aviary-cohort': 'everyone' }))).toBe(0);
    expect(share(await versions())).toBe(0);
    await waitFor('the outcomes', () => s.outcomes.length >= users.length * 3, 10_000);
    const cohortOutcomes = s.outcomes.filter((o) => o.cohort === true);
    expect(cohortOutcomes).toHaveLength(users.length);
    expect(cohortOutcomes.every((o) => o.versionLabel === 'v2' && o.role === 'candidate')).toBe(true);

    await s.promote(id);
    await cohortSeen();
    expect(share(await versions({ 'x-aviary-cohort': 'internal' }))).toBe(1);
    const others = share(await versions());
    // 20% of 100 users by Unleash's hash: the cohort rule does not take anyone else.
    expect(others).toBeGreaterThan(0.08);
    expect(others).toBeLessThan(0.35);
  });

  it('forces a version for an allow-listed key only, and marks the outcome forced', async () => {
    const debugClient = new OpenAI({ baseURL: `${s.router.url}/v1`, apiKey: debugKey, maxRetries: 0 });
    const denied = await s.openai.chat.completions
      .create(
        { model: s.model, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-aviary-force-version': 'v2' } },
      )
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((denied as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe(
      'force_version_not_allowed',
    );

    s.outcomes.length = 0;
    const forcedIds: string[] = [];
    for (const version of ['v1', 'v2']) {
      const { response } = await debugClient.chat.completions
        .create(
          { model: s.model, messages: [{ role: 'user', content: 'hi' }], user: 'cohort-user-0' },
          { headers: { 'x-aviary-force-version': version } },
        )
        .withResponse();
      expect(response.headers.get('x-aviary-model-version')).toBe(version);
      forcedIds.push(response.headers.get('x-aviary-request-id') ?? '');
    }
    const forced = () => s.outcomes.filter((o) => o.forced === true);
    await waitFor('the outcomes', () => forced().length >= 2, 10_000);
    expect(forced().map((o) => [o.versionLabel, o.forced])).toEqual([
      ['v1', true],
      ['v2', true],
    ]);

    // Ratings of forced answers are accepted but not evidence either: only the ordinary one arrives.
    const { response: ordinary } = await s.openai.chat.completions
      .create({ model: s.model, messages: [{ role: 'user', content: 'hi' }], user: 'cohort-user-1' })
      .withResponse();
    const ordinaryId = ordinary.headers.get('x-aviary-request-id') ?? '';
    for (const id of [...forcedIds, ordinaryId]) {
      const rated = await s.post('/v1/feedback', { request_id: id, rating: 'down' });
      expect(rated.status).toBe(202);
    }
    await waitFor('the ordinary rating', () => s.feedback.some((f) => f.requestId === ordinaryId), 10_000);
    expect(s.feedback.filter((f) => forcedIds.includes(f.requestId))).toEqual([]);

    const unknown = await debugClient.chat.completions
      .create(
        { model: s.model, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-aviary-force-version': 'v9' } },
      )
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('lets a key created with mayForceVersion force a version, with no router setting', async () => {
    const { key } = await s.createKey(`oncall-${s.model}`, { mayForceVersion: true });
    const oncall = new OpenAI({ baseURL: `${s.router.url}/v1`, apiKey: key, maxRetries: 0 });
    // The router learns of the key at its next poll of the control plane.
    await waitFor('the key to reach the router', () =>
      oncall.models.list().then(
        () => true,
        () => false,
      ),
    );
    const { response } = await oncall.chat.completions
      .create(
        { model: s.model, messages: [{ role: 'user', content: 'hi' }] },
        { headers: { 'x-aviary-force-version': 'v2' } },
      )
      .withResponse();
    expect(response.headers.get('x-aviary-model-version')).toBe('v2');
  });
});

import { randomUUID } from 'node:crypto';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { flagNameForModel, type ModelRouting, type UpstreamTarget } from '@aviary/domain';
import { decodeRoutingVariant, type DecodedRouting } from './unleash-feature.encoding';
import { UnleashFlagPublisher } from './unleash-flag-publisher';
import { destroyUnleashClient } from './unleash-client-lifecycle';

/*
 * Against a real unleash-server (scripts/services/unleash.sh) and the real unleash-client an Aviary router
 * uses. Each run publishes a flag with a fresh model name, so reruns against the same server never collide.
 */
const UNLEASH_URL = process.env.UNLEASH_URL?.replace(/\/+$/, '');
if (!UNLEASH_URL) {
  throw new Error(
    'UNLEASH_URL is not set. Start the test server with scripts/services/unleash.sh, e.g. ' +
      '`UNLEASH_URL=$(bash scripts/services/unleash.sh --url) npx jest libs/flags --selectProjects integration --runInBand`.',
  );
}
const ADMIN_TOKEN = process.env.UNLEASH_ADMIN_TOKEN;
const USERS = 10_000;
const userIds = Array.from({ length: USERS }, (_, i) => `user-${i}-${(i * 2654435761) % 4294967296}`);

const baseline: UpstreamTarget = {
  versionId: 'ver-base',
  label: 'baseline',
  baseUrl: 'http://vllm-a:8000/v1',
  upstreamModel: 'base-model',
  timeoutMs: 30_000,
  apiKeyRef: null,
};
const candidate: UpstreamTarget = {
  ...baseline,
  versionId: 'ver-cand',
  label: 'candidate',
  baseUrl: 'http://vllm-b:8000/v1',
};

describe(UnleashFlagPublisher.name, () => {
  const model = `int-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const flag = flagNameForModel(model);
  // Fixed so the measured shares are the same on every run (the flag name is what keeps runs apart).
  const stickinessGroup = 'aviary-int-spec-rollout';
  let calls: { method: string; url: string }[] = [];
  const countingFetch: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    calls.push({ method: init?.method ?? 'GET', url });
    return fetch(input, init);
  };
  const publisher = new UnleashFlagPublisher({
    url: UNLEASH_URL,
    adminToken: ADMIN_TOKEN,
    timeoutMs: 5_000,
    fetch: countingFetch,
  });
  const headers: Record<string, string> = ADMIN_TOKEN ? { authorization: ADMIN_TOKEN } : {};
  let client: Unleash;
  let candidatesAt20 = new Set<string>();

  const routing = (revision: number, candidateWeight: number): ModelRouting => ({
    model,
    baseline,
    candidate,
    candidateWeight,
    shadow: null,
    rolloutId: 'ro-int',
    stickinessGroup,
    revision,
  });

  beforeAll(async () => {
    await publisher.check();
    client = new Unleash({
      url: `${UNLEASH_URL}/api`,
      appName: 'aviary-flags-int-spec',
      refreshInterval: 200,
      disableMetrics: true,
      storageProvider: new InMemStorageProvider(),
      customHeaders: headers,
    });
    let lastProblem = 'none';
    const note = (e: unknown) => (lastProblem = e instanceof Error ? e.message : String(e));
    client.on('error', note);
    client.on('warn', note);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `unleash-client did not sync with ${UNLEASH_URL} in 15 s; last problem: ${lastProblem}`,
            ),
          ),
        15_000,
      );
      client.once('synchronized', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }, 20_000);

  afterAll(async () => {
    if (client) destroyUnleashClient(client);
    // Archive, then delete for good: reruns leave nothing behind.
    await fetch(`${UNLEASH_URL}/api/admin/projects/default/features/${flag}`, { method: 'DELETE', headers });
    await fetch(`${UNLEASH_URL}/api/admin/archive/${flag}`, { method: 'DELETE', headers });
  });

  /** Publishes, then waits until the client serves that revision; returns how long that took. */
  async function publishAndPropagate(r: ModelRouting): Promise<{ propagationMs: number }> {
    await publisher.publish(r);
    const published = Date.now();
    while (decodeRoutingVariant(client.getVariant(flag, { userId: 'probe' }))?.revision !== r.revision) {
      if (Date.now() - published > 15_000)
        throw new Error(`revision ${r.revision} did not reach the client in 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { propagationMs: Date.now() - published };
  }

  function evaluate(): { candidates: Set<string>; undecodable: number; microsPerEvaluation: number } {
    const candidates = new Set<string>();
    let undecodable = 0;
    const started = process.hrtime.bigint();
    for (const userId of userIds) {
      const decoded: DecodedRouting | null = decodeRoutingVariant(client.getVariant(flag, { userId }));
      if (decoded === null) undecodable++;
      else if (decoded.role === 'candidate') candidates.add(userId);
    }
    const micros = Number(process.hrtime.bigint() - started) / 1000 / USERS;
    return { candidates, undecodable, microsPerEvaluation: micros };
  }

  async function strategiesInDevelopment(): Promise<{ parameters: Record<string, string> }[]> {
    const res = await fetch(
      `${UNLEASH_URL}/api/admin/projects/default/features/${flag}/environments/development`,
      {
        headers,
      },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      enabled: boolean;
      strategies: { parameters: Record<string, string> }[];
    };
    expect(body.enabled).toBe(true);
    return body.strategies;
  }

  it('serves the candidate to ~20% of 10,000 users at weight 20', async () => {
    const { propagationMs } = await publishAndPropagate(routing(1, 20));
    const { candidates, undecodable, microsPerEvaluation } = evaluate();

    const share = candidates.size / USERS;
    console.info(
      `[unleash] 20%: candidate share ${(share * 100).toFixed(2)}%, ${microsPerEvaluation.toFixed(2)} µs per ` +
        `getVariant+decode, first publish visible to the client after ${propagationMs} ms`,
    );
    expect(undecodable).toBe(0);
    expect(share).toBeGreaterThanOrEqual(0.185);
    expect(share).toBeLessThanOrEqual(0.215);
    candidatesAt20 = candidates;
  });

  it('keeps every 20% user on the candidate at 50%', async () => {
    const { propagationMs } = await publishAndPropagate(routing(2, 50));
    const { candidates } = evaluate();

    const kept = [...candidatesAt20].filter((u) => candidates.has(u)).length / candidatesAt20.size;
    const share = candidates.size / USERS;
    console.info(
      `[unleash] 50%: candidate share ${(share * 100).toFixed(2)}%, ${(kept * 100).toFixed(2)}% of the 20% ` +
        `cohort kept the candidate, change visible after ${propagationMs} ms`,
    );
    expect(kept).toBe(1);
    expect(share).toBeGreaterThanOrEqual(0.48);
    expect(share).toBeLessThanOrEqual(0.52);
  });

  it('converges: republishing the same routing leaves exactly 2 strategies and costs one read', async () => {
    await Promise.all([publisher.publish(routing(2, 50)), publisher.publish(routing(2, 50))]);
    calls = [];
    await publisher.publish(routing(2, 50));

    expect(calls.map((c) => c.method)).toEqual(['GET']);
    const strategies = await strategiesInDevelopment();
    expect(strategies.map((s) => s.parameters.rollout)).toEqual(['50', '100']);
  });

  it('skips a routing older than the published one', async () => {
    await publisher.publish(routing(1, 20));

    expect((await strategiesInDevelopment()).map((s) => s.parameters.rollout)).toEqual(['50', '100']);
  });

  it('rolls back: nobody gets the candidate at weight 0', async () => {
    calls = [];
    const { propagationMs } = await publishAndPropagate(routing(3, 0));
    const { candidates, undecodable } = evaluate();

    console.info(`[unleash] rollback visible to the client after ${propagationMs} ms`);
    expect(calls.map((c) => c.method)).toEqual(['GET', 'DELETE', 'PUT']);
    expect(undecodable).toBe(0);
    expect(candidates.size).toBe(0);
    expect(await strategiesInDevelopment()).toHaveLength(1);
  });

  it('revives the flag when someone archived it', async () => {
    const archived = await fetch(`${UNLEASH_URL}/api/admin/projects/default/features/${flag}`, {
      method: 'DELETE',
      headers,
    });
    expect(archived.status).toBe(202);

    await publishAndPropagate(routing(4, 20));

    expect((await strategiesInDevelopment()).map((s) => s.parameters.rollout)).toEqual(['20', '100']);
    const share = evaluate().candidates.size / USERS;
    expect(share).toBeGreaterThanOrEqual(0.185);
    expect(share).toBeLessThanOrEqual(0.215);
  });

  describe('cohorts', () => {
    const internal = { header: { name: 'x-aviary-cohort', value: 'internal' } };
    const cohortRouting = (revision: number, candidateWeight: number): ModelRouting => ({
      ...routing(revision, candidateWeight),
      cohort: {
        ...internal,
        constraints: [{ contextName: 'x-region', operator: 'STR_STARTS_WITH', values: ['eu-'] }],
      },
    });
    const insider = (userId: string) => ({
      userId,
      properties: { 'x-aviary-cohort': 'internal', 'x-region': 'eu-west' },
    });

    function roles(context: (userId: string) => Parameters<Unleash['getVariant']>[1]) {
      const seen = { cohort: 0, candidate: 0, baseline: 0, undecodable: 0 };
      for (const userId of userIds.slice(0, 2000)) {
        const d = decodeRoutingVariant(client.getVariant(flag, context(userId)));
        if (d === null) seen.undecodable++;
        else if (d.cohort) seen.cohort++;
        else seen[d.role]++;
      }
      return seen;
    }

    it('publishes a cohort as an Unleash strategy with constraints that unleash-client evaluates', async () => {
      await publishAndPropagate(cohortRouting(10, 0));

      const strategies = (await strategiesInDevelopment()) as unknown as {
        title: string;
        constraints: unknown[];
        parameters: Record<string, string>;
      }[];
      expect(strategies.map((s) => [s.title, s.parameters.rollout])).toEqual([
        ['aviary cohort', '100'],
        ['aviary baseline', '100'],
      ]);
      expect(strategies[0]?.constraints).toEqual([
        {
          contextName: 'x-aviary-cohort',
          operator: 'IN',
          values: ['internal'],
          inverted: false,
          caseInsensitive: false,
        },
        {
          contextName: 'x-region',
          operator: 'STR_STARTS_WITH',
          values: ['eu-'],
          inverted: false,
          caseInsensitive: false,
        },
      ]);
      expect(roles(insider)).toEqual({ cohort: 2000, candidate: 0, baseline: 0, undecodable: 0 });
      // Every condition must hold: the header alone, from another region, is not enough.
      expect(
        roles((userId) => ({ userId, properties: { 'x-aviary-cohort': 'internal', 'x-region': 'us-east' } })),
      ).toEqual({ cohort: 0, candidate: 0, baseline: 2000, undecodable: 0 });
      expect(roles((userId) => ({ userId }))).toEqual({
        cohort: 0,
        candidate: 0,
        baseline: 2000,
        undecodable: 0,
      });
      await expect(publisher.inspect(cohortRouting(10, 0))).resolves.toMatchObject({ drift: null });
    });

    it('serves the cohort beside the weighted split, in order, and is not drift', async () => {
      await publishAndPropagate(cohortRouting(11, 20));

      const strategies = (await strategiesInDevelopment()) as unknown as { title: string }[];
      expect(strategies.map((s) => s.title)).toEqual([
        'aviary cohort',
        'aviary candidate',
        'aviary baseline',
      ]);
      expect(roles(insider)).toEqual({ cohort: 2000, candidate: 0, baseline: 0, undecodable: 0 });
      const outsiders = roles((userId) => ({ userId }));
      expect(outsiders.cohort).toBe(0);
      expect(outsiders.candidate / 2000).toBeGreaterThan(0.16);
      expect(outsiders.candidate / 2000).toBeLessThan(0.24);
      await expect(publisher.inspect(cohortRouting(11, 20))).resolves.toMatchObject({ drift: null });
      calls = [];
      await publisher.publish(cohortRouting(11, 20));
      expect(calls.map((c) => c.method)).toEqual(['GET']);
    });

    it('reports a hand-edited cohort constraint as drift and writes it back', async () => {
      const strategies = (await strategiesInDevelopment()) as unknown as ({
        id: string;
        title: string;
      } & Record<string, unknown>)[];
      const cohort = strategies.find((s) => s.title === 'aviary cohort');
      if (!cohort) throw new Error('no cohort strategy');
      const edited = await fetch(
        `${UNLEASH_URL}/api/admin/projects/default/features/${flag}/environments/development/strategies/${cohort.id}`,
        {
          method: 'PUT',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({
            ...cohort,
            constraints: [{ contextName: 'x-aviary-cohort', operator: 'IN', values: ['everyone'] }],
          }),
        },
      );
      expect(edited.status).toBe(200);

      await expect(publisher.inspect(cohortRouting(11, 20))).resolves.toMatchObject({ drift: 'edited' });
      await publisher.publish(cohortRouting(11, 20));
      await expect(publisher.inspect(cohortRouting(11, 20))).resolves.toMatchObject({ drift: null });
    });

    it('deletes the cohort strategy when the next step has no cohort', async () => {
      await publishAndPropagate(routing(12, 50));

      const strategies = (await strategiesInDevelopment()) as unknown as { title: string }[];
      expect(strategies.map((s) => s.title)).toEqual(['aviary candidate', 'aviary baseline']);
      expect(roles(insider).cohort).toBe(0);
    });
  });
});

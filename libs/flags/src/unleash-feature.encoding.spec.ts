import { InMemStorageProvider, Unleash, type ClientFeaturesResponse } from 'unleash-client';
import type { ModelRouting, UpstreamTarget } from '@aviary/domain';
import { RoutingEncodingError } from './flags.errors';
import {
  buildClientFeaturesResponse,
  computeEtag,
  decodePayloadValue,
  decodeRoutingVariant,
  encodeRoutingPayload,
  encodeRoutingStrategies,
  etagMatches,
  routingPayloadSchema,
  toClientFeature,
} from './unleash-feature.encoding';

const baseline: UpstreamTarget = {
  versionId: 'ver-base',
  label: 'llama-3.1-70b v1',
  baseUrl: 'http://vllm-a:8000/v1',
  upstreamModel: 'meta-llama/Llama-3.1-70B',
  timeoutMs: 30_000,
  apiKeyRef: null,
};
const candidate: UpstreamTarget = {
  versionId: 'ver-cand',
  label: 'llama-3.3-70b v2',
  baseUrl: 'http://vllm-b:8000/v1',
  upstreamModel: 'meta-llama/Llama-3.3-70B',
  timeoutMs: 20_000,
  apiKeyRef: 'VLLM_B_API_KEY',
};

function routing(overrides: Partial<ModelRouting> = {}): ModelRouting {
  return {
    model: 'chat-large',
    baseline,
    candidate,
    candidateWeight: 20,
    shadow: null,
    rolloutId: 'ro-1',
    stickinessGroup: 'ro-1-seed',
    revision: 7,
    ...overrides,
  };
}

describe('unleash feature encoding', () => {
  describe('cohorts', () => {
    const cohort = { userIds: ['alice'], header: { name: 'x-aviary-cohort', value: 'internal' } };

    it.each([
      { weight: 0, titles: ['aviary cohort', 'aviary baseline'] },
      { weight: 20, titles: ['aviary cohort', 'aviary candidate', 'aviary baseline'] },
    ])('puts the cohort strategy first, with its constraints, at weight $weight', ({ weight, titles }) => {
      const strategies = encodeRoutingStrategies(routing({ candidateWeight: weight, cohort }));

      expect(strategies.map((s) => s.title)).toEqual(titles);
      expect(strategies[0]?.parameters.rollout).toBe('100');
      expect(strategies[0]?.constraints.map((c) => [c.contextName, c.operator, c.values])).toEqual([
        ['aviaryUserId', 'IN', ['alice']],
        ['x-aviary-cohort', 'IN', ['internal']],
      ]);
      expect(strategies.slice(1).every((s) => s.constraints.length === 0)).toBe(true);
      const payload = decodePayloadValue(strategies[0]?.variants[0].payload.value ?? '');
      expect(payload).toMatchObject({ role: 'candidate', cohort: true, target: { versionId: 'ver-cand' } });
    });

    it('serves the constraints to SDKs from the built-in source too', () => {
      const feature = toClientFeature(routing({ candidateWeight: 0, cohort }));

      expect(feature.strategies[0]?.constraints).toHaveLength(2);
    });

    it('has no cohort strategy without a candidate', () => {
      const strategies = encodeRoutingStrategies(routing({ candidate: null, candidateWeight: 0, cohort }));

      expect(strategies.map((s) => s.title)).toEqual(['aviary baseline']);
    });
  });

  describe(encodeRoutingStrategies.name, () => {
    it.each([
      {
        scenario: 'no candidate',
        input: routing({ candidate: null, candidateWeight: 0, rolloutId: null }),
        rollouts: ['100'],
        roles: ['baseline'],
        shadow: null,
      },
      {
        scenario: 'shadow only',
        input: routing({ candidateWeight: 0, shadow: { target: candidate, sampleRate: 0.25 } }),
        rollouts: ['100'],
        roles: ['baseline'],
        shadow: { target: candidate, sampleRate: 0.25 },
      },
      {
        scenario: '20%',
        input: routing(),
        rollouts: ['20', '100'],
        roles: ['candidate', 'baseline'],
        shadow: null,
      },
      {
        scenario: '100%',
        input: routing({ candidateWeight: 100 }),
        rollouts: ['100', '100'],
        roles: ['candidate', 'baseline'],
        shadow: null,
      },
      {
        scenario: 'weight without a candidate (serves the baseline)',
        input: routing({ candidate: null, candidateWeight: 30 }),
        rollouts: ['100'],
        roles: ['baseline'],
        shadow: null,
      },
    ])('encodes $scenario as rollouts $rollouts', ({ input, rollouts, roles, shadow }) => {
      const strategies = encodeRoutingStrategies(input);

      expect(strategies.map((s) => s.parameters.rollout)).toEqual(rollouts);
      expect(strategies.map((s) => s.variants.map((v) => v.name))).toEqual(roles.map((r) => [r]));
      for (const s of strategies) {
        expect(s.name).toBe('flexibleRollout');
        expect(s.parameters).toEqual({
          groupId: 'ro-1-seed',
          rollout: expect.any(String) as string,
          stickiness: 'userId',
        });
        expect(s.constraints).toEqual([]);
        expect(s.variants[0]).toMatchObject({ weight: 1000, weightType: 'variable', stickiness: 'userId' });
        expect(s.variants[0].payload.type).toBe('json');
      }
      const baselinePayload = decodePayloadValue(strategies.at(-1)!.variants[0].payload.value);
      expect(baselinePayload).toMatchObject({ role: 'baseline', target: baseline, revision: 7, shadow });
    });

    it('puts the candidate target in the candidate variant, the baseline as its fallback, and keeps shadowing off it', () => {
      const [first] = encodeRoutingStrategies(routing({ shadow: { target: candidate, sampleRate: 1 } }));

      expect(decodePayloadValue(first!.variants[0].payload.value)).toEqual({
        v: 1,
        role: 'candidate',
        model: 'chat-large',
        target: candidate,
        rolloutId: 'ro-1',
        revision: 7,
        candidateWeight: 20,
        shadow: null,
        fallback: baseline,
      });
    });

    it.each([
      { field: 'candidateWeight', input: routing({ candidateWeight: 12.5 }) },
      { field: 'candidateWeight', input: routing({ candidateWeight: 101 }) },
      { field: 'model', input: routing({ model: 'llama3:70b' }) },
      { field: 'stickinessGroup', input: routing({ stickinessGroup: '' }) },
      {
        field: 'candidate.target.baseUrl',
        input: routing({ candidate: { ...candidate, baseUrl: 'not a url' } }),
      },
    ])('refuses a routing with a bad $field', ({ field, input }) => {
      expect(() => encodeRoutingStrategies(input)).toThrow(RoutingEncodingError);
      expect(() => encodeRoutingStrategies(input)).toThrow(field);
    });
  });

  describe(decodeRoutingVariant.name, () => {
    it('round-trips the payload of a variant', () => {
      const payload = encodeRoutingPayload(
        routing({ shadow: { target: candidate, sampleRate: 0.1 } }),
        'baseline',
      );
      const variant = {
        name: 'baseline',
        enabled: true,
        payload: { type: 'json', value: JSON.stringify(payload) },
      };

      const decoded = decodeRoutingVariant(variant);

      expect(decoded).toEqual(payload);
      expect(routingPayloadSchema.parse(decoded)).toEqual(payload);
      expect(decodeRoutingVariant(variant)).toBe(decoded); // cached per payload object
    });

    it('carries a version’s endpoints and answer limits, and leaves them out when unset', () => {
      const limited = {
        ...baseline,
        endpoints: ['embeddings'] as const,
        maxResponseBytes: 4096,
        totalTimeoutMs: 900,
      };
      const payload = encodeRoutingPayload(routing({ baseline: limited }), 'baseline');
      const decoded = decodePayloadValue(JSON.stringify(payload));
      expect(decoded?.target).toMatchObject({
        endpoints: ['embeddings'],
        maxResponseBytes: 4096,
        totalTimeoutMs: 900,
      });
      const plain = encodeRoutingPayload(routing({ baseline: { ...baseline, endpoints: null } }), 'baseline');
      expect(Object.keys(plain.target)).not.toContain('endpoints');
    });

    it('carries each version’s prompt and parameters: the target’s, the shadow’s and the fallback’s', () => {
      const prompted = {
        ...candidate,
        prompt: {
          systemPrompt: 'Be brief, {{name}}.',
          promptVariables: { name: 'friend' },
          defaultParameters: { temperature: 0.2, stop: ['\n\n'] },
          enforcedParameters: { max_tokens: 64 },
        },
      };
      const basePrompt = { ...baseline, prompt: { systemPrompt: 'Be thorough.' } };
      const r = routing({
        baseline: basePrompt,
        candidate: prompted,
        shadow: { target: prompted, sampleRate: 1 },
      });
      const base = decodePayloadValue(JSON.stringify(encodeRoutingPayload(r, 'baseline')));
      const cand = decodePayloadValue(JSON.stringify(encodeRoutingPayload(r, 'candidate')));
      expect(base?.target.prompt).toEqual({ systemPrompt: 'Be thorough.' });
      expect(base?.shadow?.target.prompt).toEqual(prompted.prompt);
      expect(cand?.target.prompt).toEqual(prompted.prompt);
      expect(cand?.fallback?.prompt).toEqual({ systemPrompt: 'Be thorough.' });
    });

    it('leaves an empty prompt out, so versions without one encode to the bytes they always did', () => {
      const empty = {
        ...baseline,
        prompt: { systemPrompt: null, promptVariables: {}, defaultParameters: {} },
      };
      expect(JSON.stringify(encodeRoutingPayload(routing({ baseline: empty }), 'baseline'))).toBe(
        JSON.stringify(encodeRoutingPayload(routing(), 'baseline')),
      );
    });

    it('refuses a payload larger than unleash-server takes in one request, naming the prompt', () => {
      // Quotes double when the payload is escaped into the strategy request.
      const variables = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`v${i}`, '"'.repeat(1000)]));
      const huge = { ...candidate, prompt: { systemPrompt: '"'.repeat(8000), promptVariables: variables } };
      expect(() => encodeRoutingPayload(routing({ baseline: huge, candidate: huge }), 'candidate')).toThrow(
        /candidate\.target\.prompt .* more than the 96000 unleash-server accepts/,
      );
    });

    it('carries a version’s prices, and leaves them out when it has none', () => {
      const prices = { inputUsdPerMTok: 0.5, outputUsdPerMTok: 1.5 };
      const payload = encodeRoutingPayload(routing({ baseline: { ...baseline, prices } }), 'baseline');
      expect(decodePayloadValue(JSON.stringify(payload))?.target.prices).toEqual(prices);
      const plain = encodeRoutingPayload(routing(), 'baseline');
      expect(Object.keys(plain.target)).not.toContain('prices');
    });

    it('ignores fields a newer publisher added', () => {
      const payload = { ...encodeRoutingPayload(routing(), 'candidate'), futureField: 'x' };
      const decoded = decodeRoutingVariant({
        name: 'candidate',
        enabled: true,
        payload: { type: 'json', value: JSON.stringify(payload) },
      });

      expect(decoded?.target).toEqual(candidate);
    });

    it.each([
      { scenario: 'the disabled default variant', variant: { name: 'disabled', enabled: false } },
      { scenario: 'no variant', variant: undefined },
      {
        scenario: 'a string payload',
        variant: { name: 'baseline', enabled: true, payload: { type: 'string', value: 'x' } },
      },
      {
        scenario: 'broken JSON',
        variant: { name: 'baseline', enabled: true, payload: { type: 'json', value: '{' } },
      },
      {
        scenario: 'an unknown payload version',
        variant: {
          name: 'baseline',
          enabled: true,
          payload: {
            type: 'json',
            value: JSON.stringify({ ...encodeRoutingPayload(routing(), 'baseline'), v: 2 }),
          },
        },
      },
      {
        scenario: 'a variant name that contradicts the payload role',
        variant: {
          name: 'candidate',
          enabled: true,
          payload: { type: 'json', value: JSON.stringify(encodeRoutingPayload(routing(), 'baseline')) },
        },
      },
    ])('gives null for $scenario', ({ variant }) => {
      expect(decodeRoutingVariant(variant)).toBeNull();
    });
  });

  describe(buildClientFeaturesResponse.name, () => {
    it('serves the flag the way unleash-server 8 serves it to SDKs', () => {
      expect(toClientFeature(routing())).toEqual({
        name: 'aviary.model.chat-large',
        type: 'permission',
        enabled: true,
        project: 'default',
        stale: false,
        description: expect.any(String) as string,
        impressionData: false,
        variants: [],
        strategies: [
          {
            name: 'flexibleRollout',
            constraints: [],
            parameters: { groupId: 'ro-1-seed', rollout: '20', stickiness: 'userId' },
            variants: [
              {
                name: 'candidate',
                weight: 1000,
                weightType: 'variable',
                stickiness: 'userId',
                payload: { type: 'json', value: expect.stringContaining('"role":"candidate"') as string },
              },
            ],
          },
          {
            name: 'flexibleRollout',
            constraints: [],
            parameters: { groupId: 'ro-1-seed', rollout: '100', stickiness: 'userId' },
            variants: [expect.objectContaining({ name: 'baseline' })],
          },
        ],
      });
    });

    it('is evaluated by unleash-client: ~20% candidate, the rest baseline', async () => {
      const body = buildClientFeaturesResponse([routing(), routing({ model: 'other', candidate: null })]);
      // Through JSON, as the built-in endpoint serves it (the SDK types payload.type as an enum).
      const wire = JSON.parse(JSON.stringify(body)) as ClientFeaturesResponse;
      const unleash = new Unleash({
        appName: 'aviary-encoding-spec',
        url: 'http://127.0.0.1:9/api', // never called: refreshInterval 0 disables polling
        refreshInterval: 0,
        disableMetrics: true,
        storageProvider: new InMemStorageProvider(),
        bootstrap: { data: wire.features },
      });
      try {
        await new Promise<void>((resolve) => unleash.once('ready', () => resolve()));
        const counts = { candidate: 0, baseline: 0, other: 0 };
        for (let i = 0; i < 10_000; i++) {
          const decoded = decodeRoutingVariant(
            unleash.getVariant('aviary.model.chat-large', { userId: `user-${i}` }),
          );
          if (decoded === null) counts.other++;
          else counts[decoded.role]++;
        }
        expect(counts.other).toBe(0);
        expect(counts.candidate / 10_000).toBeGreaterThan(0.185);
        expect(counts.candidate / 10_000).toBeLessThan(0.215);
        expect(decodeRoutingVariant(unleash.getVariant('aviary.model.other', { userId: 'u' }))?.role).toBe(
          'baseline',
        );
      } finally {
        unleash.destroy();
      }
    });

    it('sorts features by name and reports the environment when given', () => {
      const body = buildClientFeaturesResponse([routing({ model: 'b' }), routing({ model: 'a' })], {
        environment: 'production',
      });

      expect(body.version).toBe(2);
      expect(body.features.map((f) => f.name)).toEqual(['aviary.model.a', 'aviary.model.b']);
      expect(body.query).toEqual({ environment: 'production', inlineSegmentConstraints: true });
    });
  });

  describe(computeEtag.name, () => {
    it('is stable for the same routings in any order and changes with the revision', () => {
      const a = routing({ model: 'a' });
      const b = routing({ model: 'b' });

      const etag = computeEtag(buildClientFeaturesResponse([a, b]));

      expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]{32}"$/);
      expect(computeEtag(buildClientFeaturesResponse([b, a]))).toBe(etag);
      expect(computeEtag(JSON.stringify(buildClientFeaturesResponse([a, b])))).toBe(etag);
      expect(computeEtag(buildClientFeaturesResponse([a, { ...b, revision: 8 }]))).not.toBe(etag);
      expect(computeEtag(buildClientFeaturesResponse([a]))).not.toBe(etag);
    });

    it.each([
      { header: undefined, matches: false },
      { header: 'W/"abc"', matches: true },
      { header: '"abc"', matches: true },
      { header: '"x", W/"abc"', matches: true },
      { header: ['"x"', 'W/"abc"'], matches: true },
      { header: '*', matches: true },
      { header: 'W/"abd"', matches: false },
    ])('If-None-Match $header matches W/"abc": $matches', ({ header, matches }) => {
      expect(etagMatches(header, 'W/"abc"')).toBe(matches);
    });
  });
});

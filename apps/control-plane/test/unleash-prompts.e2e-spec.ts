import { decodeRoutingVariant, destroyUnleashClient } from '@aviary/flags';
import { encodedPromptBytes, MAX_VERSION_PROMPT_BYTES } from '@aviary/contracts';
import { flagNameForModel } from '@aviary/domain';
import type { Unleash } from 'unleash-client';
import { startUnleashClient, testUnleashUrl, waitFor } from '@aviary/testing';
import { startTestControlPlane, type TestControlPlane } from './harness';

jest.setTimeout(60_000);

/** The largest prompt the admin API takes: 8192 quotes (each escaped twice) and variables up to the bound. */
function largestPrompt(tag: string) {
  const systemPrompt = `${tag} ${'"'.repeat(8000)}`;
  const promptVariables: Record<string, string> = {};
  for (let i = 0; i < 32; i++) {
    const next = { ...promptVariables, [`v${i}`]: '"'.repeat(1000) };
    if (encodedPromptBytes({ systemPrompt, promptVariables: next }) > MAX_VERSION_PROMPT_BYTES) break;
    promptVariables[`v${i}`] = '"'.repeat(1000);
  }
  return { systemPrompt, promptVariables };
}

describe('version prompts through a real unleash-server', () => {
  let t: TestControlPlane;
  let client: Unleash;
  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual', UNLEASH_URL: testUnleashUrl() });
    client = await startUnleashClient({ url: `${testUnleashUrl()}/api`, refreshIntervalMs: 100 });
  });
  afterAll(async () => {
    if (client) destroyUnleashClient(client);
    await t?.close();
  });

  it('publishes two versions with the largest prompts the API takes, and unleash-client reads them back', async () => {
    const model = `unp-${Date.now().toString(36)}`;
    const v1 = largestPrompt('v1');
    const v2 = largestPrompt('v2');
    expect(encodedPromptBytes(v1)).toBeGreaterThan(MAX_VERSION_PROMPT_BYTES - 4100); // at the bound
    await t.api('POST', '/api/v1/models', { name: model });
    const base = { upstreamBaseUrl: 'http://127.0.0.1:9/v1', upstreamModel: 'm' };
    for (const [label, prompt] of [
      ['v1', v1],
      ['v2', v2],
    ] as const)
      expect(
        (await t.api('POST', `/api/v1/models/${model}/versions`, { label, ...base, ...prompt })).status,
      ).toBe(201);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model,
      candidateVersion: 'v2',
      plan: {
        steps: [
          { type: 'shadow', sampleRate: 1, minDurationSeconds: 3600 },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
      },
    });
    const started = await t.api<{ publication: { reachedFlagSource: boolean; lastError: string | null } }>(
      'POST',
      `/api/v1/rollouts/${r.body.id}/start`,
    );
    expect(started.status).toBe(200);
    // The baseline variant carries both prompts: v1's as its target, v2's as the shadow's.
    const routing = await waitFor(
      'the shadow split in unleash-client',
      () => {
        const d = decodeRoutingVariant(client.getVariant(flagNameForModel(model), { userId: 'u' }));
        return d?.shadow ? d : null;
      },
      20_000,
    );
    expect(routing.target.prompt).toEqual(v1);
    expect(routing.shadow?.target.prompt).toEqual(v2);
  });
});

import type { UpstreamTarget, VersionPrompt } from '@aviary/domain';
import { goldenRequest } from './golden-set.runner';

const target = (prompt?: VersionPrompt): UpstreamTarget => ({
  versionId: 'v',
  label: 'v',
  baseUrl: 'http://llm/v1',
  upstreamModel: 'm',
  timeoutMs: 1000,
  apiKeyRef: null,
  ...(prompt ? { prompt } : {}),
});
const item = { id: 'a', messages: [{ role: 'user', content: 'Reset my password?' }] };

describe(goldenRequest.name, () => {
  it.each<[string, VersionPrompt | undefined, Record<string, unknown>]>([
    [
      'asks at temperature 0 for a version without a prompt',
      undefined,
      { messages: item.messages, temperature: 0 },
    ],
    [
      "sends the version's system prompt, its variables' defaults filled in",
      { systemPrompt: 'You support {{product}}.', promptVariables: { product: 'Aviary' } },
      { messages: [{ role: 'system', content: 'You support Aviary.' }, ...item.messages], temperature: 0 },
    ],
    [
      "uses the version's temperature and parameters over the runner's 0",
      { defaultParameters: { temperature: 0.7 }, enforcedParameters: { max_tokens: 64 } },
      { messages: item.messages, temperature: 0.7, max_tokens: 64 },
    ],
  ])('%s', (_, prompt, expected) => {
    expect(goldenRequest(target(prompt), item)).toEqual({ model: 'm', ...expected });
  });

  it('asks for JSON when the item expects it', () => {
    expect(goldenRequest(target(), { ...item, json: true })).toMatchObject({
      response_format: { type: 'json_object' },
    });
  });
});

import type { UpstreamTarget, VersionPrompt } from '@aviary/domain';
import { chatCompletions } from './chat-completions';
import { completions } from './completions';
import { embeddings } from './embeddings';
import type { EndpointAdapter, ProxiedRequest } from './endpoint';
import { responses } from './responses';

const target = (prompt?: VersionPrompt): UpstreamTarget => ({
  versionId: 'v',
  label: 'v',
  baseUrl: 'http://llm/v1',
  upstreamModel: 'upstream-m',
  timeoutMs: 1000,
  apiKeyRef: null,
  ...(prompt ? { prompt } : {}),
});

const PROMPT: VersionPrompt = {
  systemPrompt: 'You help {{team}} customers.',
  promptVariables: { team: 'all' },
  defaultParameters: { temperature: 0.3, max_tokens: 200 },
  enforcedParameters: { top_p: 0.9 },
};

function sent<R extends ProxiedRequest>(
  adapter: EndpointAdapter<R>,
  body: Record<string, unknown>,
  prompt: VersionPrompt | undefined,
  purpose: 'serve' | 'shadow' = 'serve',
): Record<string, unknown> {
  const request = adapter.parse(Buffer.from(JSON.stringify(body)));
  return JSON.parse(adapter.upstreamPayload(request, target(prompt), purpose)) as Record<string, unknown>;
}

describe('a version prompt in the upstream payload', () => {
  const chat = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'prepends the rendered system prompt and applies parameters',
      chat,
      {
        messages: [
          { role: 'system', content: 'You help all customers.' },
          { role: 'user', content: 'hi' },
        ],
        temperature: 0.3,
        max_tokens: 200,
        top_p: 0.9,
      },
    ],
    [
      "fills variables from the request's metadata",
      { ...chat, metadata: { team: 'billing' } },
      { messages: [{ role: 'system', content: 'You help billing customers.' }, chat.messages[0]] },
    ],
    [
      "keeps the request's system message after the version's",
      { ...chat, messages: [{ role: 'system', content: 'Mine.' }, ...chat.messages] },
      {
        messages: [
          { role: 'system', content: 'You help all customers.' },
          { role: 'system', content: 'Mine.' },
          { role: 'user', content: 'hi' },
        ],
      },
    ],
    [
      "keeps the request's own values over defaults, not over enforced ones",
      { ...chat, temperature: 1.5, max_completion_tokens: 20, top_p: 0.1 },
      { temperature: 1.5, max_completion_tokens: 20, top_p: 0.9 },
    ],
  ])('chat completions: %s', (_, body, expected) => {
    const out = sent(chatCompletions, body, PROMPT);
    expect(out).toMatchObject({ ...expected, model: 'upstream-m' });
    if (!('max_tokens' in expected) && 'max_completion_tokens' in body)
      expect(out).not.toHaveProperty('max_tokens');
  });

  it('gives a shadow copy the prompt and parameters of the version it goes to', () => {
    const out = sent(
      chatCompletions,
      { ...chat, stream: true },
      { systemPrompt: 'Shadow prompt.' },
      'shadow',
    );
    expect(out['messages']).toEqual([{ role: 'system', content: 'Shadow prompt.' }, chat.messages[0]]);
    expect(out).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('sends the body unchanged for a version without a prompt', () => {
    expect(sent(chatCompletions, chat, undefined)).toEqual({ ...chat, model: 'upstream-m' });
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['sets instructions', { model: 'm', input: 'hi' }, { instructions: 'You help all customers.' }],
    [
      "puts the version's instructions before the request's",
      { model: 'm', input: 'hi', instructions: 'Mine.' },
      { instructions: 'You help all customers.\n\nMine.' },
    ],
    [
      'maps max_tokens to max_output_tokens and leaves out what the API lacks',
      { model: 'm', input: 'hi' },
      { max_output_tokens: 200, temperature: 0.3, top_p: 0.9 },
    ],
  ])('responses: %s', (_, body, expected) => {
    const out = sent(responses, body, PROMPT);
    expect(out).toMatchObject(expected);
    expect(out).not.toHaveProperty('max_tokens');
  });

  it('applies parameters only to a text completion (no system message to put a prompt in)', () => {
    const out = sent(completions, { model: 'm', prompt: 'Once' }, PROMPT);
    expect(out).toEqual({
      model: 'upstream-m',
      prompt: 'Once',
      temperature: 0.3,
      max_tokens: 200,
      top_p: 0.9,
    });
  });

  it('sends embeddings requests as they came', () => {
    expect(sent(embeddings, { model: 'm', input: 'x' }, PROMPT)).toEqual({ model: 'upstream-m', input: 'x' });
  });
});

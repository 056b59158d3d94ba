import { RefusalDetector } from '@aviary/domain';
import { chatCompletions, parseChatRequest, type ChatRequest } from '../endpoints/chat-completions';
import { RequestScope } from '../http/request-scope';
import type { Exchange } from '../serving/exchange';
import { LimiterRegistry, ConcurrencyLimiter } from '../upstream/concurrency-limiter';
import { CapturingEvents, routing, target } from '../../test/proxy-fakes';
import { EvidenceRecorder, type Side } from './evidence-recorder';
import { RouterMetrics } from './router-metrics';

const request = parseChatRequest(
  Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(40) }] })),
);
const x: Exchange<ChatRequest> = {
  endpoint: chatCompletions,
  request,
  routing: routing(),
  stickyKey: 'u:someone',
  bucket: 42,
  t0: 0,
  flagsMs: 0.1,
  scope: new RequestScope('POST', '/v1/chat/completions'),
};
const served: Side = {
  target: target('v1'),
  role: 'baseline',
  requestId: 'avy-1',
  status: 200,
  errorClass: null,
  fellBack: false,
  answer: {
    text: "I'm sorry, but I can't help with that.",
    refusal: null,
    toolCalls: [],
    promptTokens: null,
    completionTokens: null,
    malformed: false,
  },
  latencyMs: 12.3456,
  ttftMs: 3.21,
  stream: false,
};

function recorder(captureSampleRate = 1) {
  const events = new CapturingEvents();
  const metrics = new RouterMetrics({
    events,
    flags: {
      status: () => ({
        ready: true,
        sourceReachable: true,
        lastError: null,
        lastUpdateAt: null,
        degraded: [],
      }),
    },
    limiters: new LimiterRegistry(() => new ConcurrencyLimiter(1, 0, 1)),
  });
  const r = new EvidenceRecorder({
    events,
    metrics,
    refusals: new RefusalDetector(),
    captureSampleRate,
    capturePrompts: 'redact',
    captureMaxChars: 20,
  });
  return { r, events, metrics };
}

describe(EvidenceRecorder.name, () => {
  it('builds an answered outcome with its classification and estimated tokens', () => {
    const { r, events } = recorder();
    r.outcome(x, served);
    expect(events.outcomes).toEqual([
      expect.objectContaining({
        schema: 'aviary.outcome.v1',
        requestId: 'avy-1',
        model: 'm',
        versionId: 'v1-id',
        versionLabel: 'v1',
        role: 'baseline',
        rolloutId: x.routing.rolloutId,
        revision: 3,
        stickinessBucket: 42,
        refusal: true,
        empty: false,
        latencyMs: 12.35,
        ttftMs: 3.21,
        promptTokens: 10,
        completionTokens: 10,
        outputChars: served.answer!.text.length,
      }),
    ]);
  });

  it('records a failure without classifying or counting tokens', () => {
    const { r, events } = recorder();
    r.outcome(x, { ...served, answer: null, errorClass: 'timeout', status: 504, ttftMs: null });
    expect(events.outcomes[0]).toMatchObject({
      errorClass: 'timeout',
      refusal: false,
      promptTokens: null,
      completionTokens: null,
      outputChars: 0,
    });
  });

  it("gives a shadow outcome its primary's stickiness bucket and pairs it with the baseline", () => {
    const { r, events } = recorder();
    const baseline = r.outcome(x, { ...served, answer: { ...served.answer!, text: 'fine answer' } });
    const shadow = r.outcome(x, { ...served, role: 'shadow', target: target('v2') });
    r.pair(x, baseline, shadow);
    expect(events.outcomes[1]).toMatchObject({ role: 'shadow', stickinessBucket: 42 });
    expect(events.pairs).toEqual([
      expect.objectContaining({
        requestId: 'avy-1',
        prompt: [{ role: 'user', content: '[redacted 40 chars]' }],
        baseline: expect.objectContaining({
          versionLabel: 'v1',
          output: 'fine answer',
          refusal: false,
        }) as unknown,
        shadow: expect.objectContaining({ versionLabel: 'v2', refusal: true }) as unknown,
      }),
    ]);
  });

  it.each([
    {
      scenario: 'prices the answer’s tokens at the served version’s prices',
      side: { answer: { ...served.answer!, promptTokens: 1000, completionTokens: 500 } },
      prices: { inputUsdPerMTok: 0.5, outputUsdPerMTok: 1.5 },
      costUsd: (1000 * 0.5 + 500 * 1.5) / 1e6,
    },
    {
      scenario: 'prices estimated tokens when the upstream reports no usage',
      side: {},
      prices: { inputUsdPerMTok: 1, outputUsdPerMTok: 2 },
      costUsd: (10 * 1 + 10 * 2) / 1e6,
    },
    {
      scenario: 'reports no cost for a version without prices',
      side: {},
      prices: undefined,
      costUsd: undefined,
    },
    {
      scenario: 'reports no cost for a failure',
      side: { answer: null, errorClass: 'timeout' as const, status: 504 },
      prices: { inputUsdPerMTok: 1, outputUsdPerMTok: 2 },
      costUsd: undefined,
    },
  ])('$scenario', ({ side, prices, costUsd }) => {
    const { r, events } = recorder();
    r.outcome(x, { ...served, ...side, target: { ...target('v1'), ...(prices ? { prices } : {}) } });
    expect(events.outcomes[0]?.costUsd).toBe(costUsd);
  });

  it('cuts long answers in pair events, not in outcomes', () => {
    const { r, events } = recorder();
    const long = { ...served, answer: { ...served.answer!, text: 'word '.repeat(100) } };
    const side = r.outcome(x, long);
    r.pair(x, side, side);
    expect(events.outcomes[0]?.outputChars).toBe(500);
    expect(events.pairs[0]?.baseline.output).toHaveLength(20);
  });

  it('keeps no pair when capture sampling leaves it out', () => {
    const { r, events } = recorder(0);
    const side = r.outcome(x, served);
    r.pair(x, side, side);
    expect(events.pairs).toHaveLength(0);
  });

  it('counts each outcome in the metrics once', async () => {
    const { r, metrics } = recorder();
    r.outcome(x, served);
    const text = await metrics.registry.metrics();
    expect(text).toContain('aviary_router_refusals_total{model="m",version="v1",role="baseline"} 1');
  });
});

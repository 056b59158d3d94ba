import type { OutcomeEvent } from '@aviary/contracts';
import { PROM_CLIENT_DEFAULTS, promtoolLintMetrics } from '@aviary/testing';
import { CapturingEvents } from '../../test/proxy-fakes';
import { ConcurrencyLimiter, LimiterRegistry } from '../upstream/concurrency-limiter';
import { RouterMetrics } from './router-metrics';

// Every metric the router exports, with every label set filled in, through Prometheus' own lint.

const outcome: OutcomeEvent = {
  schema: 'aviary.outcome.v1',
  requestId: 'avy-1',
  at: new Date(0).toISOString(),
  model: 'chat',
  versionId: 'v1',
  versionLabel: 'v1',
  role: 'candidate',
  rolloutId: 'r1',
  revision: 1,
  stickinessBucket: 3,
  stream: true,
  status: 200,
  errorClass: null,
  fellBack: false,
  refusal: true,
  empty: true,
  invalidJson: true,
  jsonRequested: true,
  schemaInvalid: true,
  latencyMs: 12,
  ttftMs: 3,
  interTokenMs: 1,
  promptTokens: 10,
  completionTokens: 20,
  outputChars: 40,
  endpoint: 'chat.completions',
  toolCalls: 2,
  toolCallErrors: 1,
};

function populatedMetrics(): RouterMetrics {
  const limiters = new LimiterRegistry(() => new ConcurrencyLimiter(1, 0, 1));
  limiters.for('https://llm.example/v1');
  const metrics = new RouterMetrics({
    events: new CapturingEvents(),
    flags: {
      status: () => ({
        ready: true,
        sourceReachable: true,
        lastError: null,
        lastUpdateAt: null,
        degraded: [{ model: 'chat', fault: 'disabled' as const, since: new Date(0), serving: 'v0' }],
      }),
    },
    limiters,
  });
  metrics.record(outcome);
  metrics.record({ ...outcome, status: 502, errorClass: 'connect' });
  metrics.fallbacks.inc({ model: 'chat' });
  metrics.shadowShed.inc({ model: 'chat' });
  metrics.shed.inc({ model: 'chat', reason: 'queue_full' });
  metrics.feedback.inc({ model: 'chat', version: 'v1', role: 'candidate', rating: 'down' });
  metrics.clientAborts.inc({ stage: 'upload' });
  metrics.authFailures.inc({ reason: 'missing' });
  return metrics;
}

describe(RouterMetrics.name, () => {
  it('exports only names and types promtool check metrics accepts', async () => {
    const exposition = await populatedMetrics().registry.metrics();
    expect(exposition).toContain('# TYPE aviary_router_events_dropped_total counter');
    expect(exposition).toContain('# TYPE aviary_router_events_published_total counter');
    expect(promtoolLintMetrics(exposition).filter((p) => !PROM_CLIENT_DEFAULTS.test(p))).toEqual([]);
  });
});

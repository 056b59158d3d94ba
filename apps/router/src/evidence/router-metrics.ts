import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventPublisher } from '@aviary/domain';
import type { OutcomeEvent } from '@aviary/contracts';
import type { FlagRouting } from '../routing/flag-routing';
import type { LimiterRegistry } from '../upstream/concurrency-limiter';

type L = 'model' | 'version' | 'role';
/** Traffic metrics also say which API (chat.completions, responses, embeddings, completions). */
type E = L | 'endpoint';
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64];

/** Prometheus metrics, labelled by model, version (label) and role (baseline / candidate / shadow). */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<E | 'status'>;
  private readonly errors: Counter<E | 'error_class'>;
  private readonly refusals: Counter<L>;
  private readonly empty: Counter<L>;
  private readonly jsonRequested: Counter<L>;
  private readonly invalidJson: Counter<L>;
  private readonly schemaInvalid: Counter<L>;
  private readonly toolCalls: Counter<L>;
  private readonly toolCallErrors: Counter<L>;
  private readonly latency: Histogram<E>;
  private readonly ttft: Histogram<E>;
  private readonly interToken: Histogram<E>;
  private readonly tokens: Counter<E | 'direction'>;
  readonly fallbacks: Counter<'model'>;
  readonly shadowShed: Counter<'model'>;
  readonly threadContinuations: Counter<'model' | 'routing'>;
  readonly conversationTurns: Counter<'model' | 'routing'>;
  readonly shed: Counter<'model' | 'reason'>;
  readonly feedback: Counter<L | 'rating'>;
  readonly clientAborts: Counter<'stage'>;
  readonly authFailures: Counter<'reason'>;
  readonly credentialRefusals: Counter<'model' | 'credential' | 'reason'>;

  constructor(opts: {
    events: Pick<EventPublisher, 'stats'>;
    flags: Pick<FlagRouting, 'status'>;
    limiters: LimiterRegistry;
  }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'aviary_router_' });
    const labelNames = ['model', 'version', 'role'] as const;
    const trafficLabels = [...labelNames, 'endpoint'] as const;
    this.requests = new Counter({
      name: 'aviary_router_requests_total',
      help: 'Requests answered (or attempted) per endpoint, by upstream status',
      labelNames: [...trafficLabels, 'status'],
      registers,
    });
    this.errors = new Counter({
      name: 'aviary_router_errors_total',
      help: 'Failed upstream attempts by class (connect, timeout, upstream_5xx, upstream_4xx, invalid_response, client_aborted, shed)',
      labelNames: [...trafficLabels, 'error_class'],
      registers,
    });
    this.refusals = new Counter({
      name: 'aviary_router_refusals_total',
      help: 'Answers classified as refusals',
      labelNames,
      registers,
    });
    this.empty = new Counter({
      name: 'aviary_router_empty_outputs_total',
      help: 'Successful answers with empty content',
      labelNames,
      registers,
    });
    this.jsonRequested = new Counter({
      name: 'aviary_router_json_requests_total',
      help: 'Answered requests that asked for a JSON response format',
      labelNames,
      registers,
    });
    this.invalidJson = new Counter({
      name: 'aviary_router_invalid_json_total',
      help: 'Answers that should have been JSON but do not parse',
      labelNames,
      registers,
    });
    this.schemaInvalid = new Counter({
      name: 'aviary_router_schema_invalid_total',
      help: 'JSON answers that do not match the json_schema the request gave (also in invalid_json)',
      labelNames,
      registers,
    });
    this.toolCalls = new Counter({
      name: 'aviary_router_tool_calls_total',
      help: 'Tool calls in answers',
      labelNames,
      registers,
    });
    this.toolCallErrors = new Counter({
      name: 'aviary_router_tool_call_errors_total',
      help: 'Tool calls whose arguments are not a JSON object or that call a tool the request did not offer',
      labelNames,
      registers,
    });
    this.latency = new Histogram({
      name: 'aviary_router_request_duration_seconds',
      help: 'Request duration, to the last byte of the answer',
      labelNames: trafficLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.ttft = new Histogram({
      name: 'aviary_router_time_to_first_token_seconds',
      help: 'From the upstream call to the first token (streams) or the first byte (other answers)',
      labelNames: trafficLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.interToken = new Histogram({
      name: 'aviary_router_inter_token_seconds',
      help: 'Streams: mean time between token events of an answer',
      labelNames: trafficLabels,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.tokens = new Counter({
      name: 'aviary_router_tokens_total',
      help: 'Tokens in (prompt) and out (completion), as reported or estimated',
      labelNames: [...trafficLabels, 'direction'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'aviary_router_fallbacks_total',
      help: 'Candidate failures answered by the baseline instead',
      labelNames: ['model'],
      registers,
    });
    this.threadContinuations = new Counter({
      name: 'aviary_router_thread_continuations_total',
      help: 'Requests continuing a stored answer (previous_response_id), by how they were routed: thread (on the key the thread began on), unsealed (an Aviary id this router could not open: another AVIARY_ROUTER_SECRET), untagged (an id Aviary did not hand out)',
      labelNames: ['model', 'routing'],
      registers,
    });
    this.conversationTurns = new Counter({
      name: 'aviary_router_conversation_turns_total',
      help: 'Responses naming a conversation, by how they were routed: conversation (on the key it was created on), unsealed (an Aviary id this router could not open: another AVIARY_ROUTER_SECRET), untagged (a conversation Aviary did not create)',
      labelNames: ['model', 'routing'],
      registers,
    });
    this.shadowShed = new Counter({
      name: 'aviary_router_shadow_shed_total',
      help: 'Shadow copies not sent because the shadow concurrency cap was full',
      labelNames: ['model'],
      registers,
    });
    this.shed = new Counter({
      name: 'aviary_router_shed_total',
      help: 'Requests turned away with 429 (upstream queue full or timed out, or per-user rate limit)',
      labelNames: ['model', 'reason'],
      registers,
    });
    this.feedback = new Counter({
      name: 'aviary_router_feedback_total',
      help: 'Thumbs up / down received',
      labelNames: [...labelNames, 'rating'],
      registers,
    });
    this.clientAborts = new Counter({
      name: 'aviary_router_client_aborts_total',
      help: 'Clients that closed the connection before sending their whole request (stage="upload")',
      labelNames: ['stage'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'aviary_router_auth_failures_total',
      help: 'Requests turned away by client authentication: missing, invalid, unavailable (keys not loaded), model (outside the key scope), rate_limit, budget',
      labelNames: ['reason'],
      registers,
    });
    this.credentialRefusals = new Counter({
      name: 'aviary_router_upstream_credential_refusals_total',
      help: 'Upstream calls not sent because the credential may not go to the host the flag names (reason: host, undeclared, no_bindings)',
      labelNames: ['model', 'credential', 'reason'],
      registers,
    });
    const events = opts.events;
    new Gauge({
      name: 'aviary_router_events_buffered',
      help: 'Evidence events waiting to be delivered',
      registers,
      collect() {
        this.set(events.stats().buffered);
      },
    });
    // Counters read from the publisher's own tallies at scrape time (they only ever grow), so they
    // are exposed as counters: a gauge named _total is what promtool's lint rejects.
    new Counter({
      name: 'aviary_router_events_dropped_total',
      help: 'Evidence events dropped because the buffer was full (the event sink was down or slow)',
      registers,
      collect() {
        this.reset();
        this.inc(events.stats().dropped);
      },
    });
    new Counter({
      name: 'aviary_router_events_published_total',
      help: 'Evidence events delivered',
      registers,
      collect() {
        this.reset();
        this.inc(events.stats().published);
      },
    });
    new Gauge({
      name: 'aviary_router_event_sink_up',
      help: '1 when the last delivery to the event sink succeeded',
      registers,
      collect() {
        this.set(events.stats().healthy ? 1 : 0);
      },
    });
    const flags = opts.flags;
    new Gauge({
      name: 'aviary_router_flag_source_up',
      help: '1 when the last poll of the flag source succeeded',
      registers,
      collect() {
        this.set(flags.status().sourceReachable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'aviary_router_flag_fallback',
      help: '1 for a model whose flag is disabled, missing or unreadable, served from its last known baseline (fault: disabled, missing, undecodable)',
      labelNames: ['model', 'fault'],
      registers,
      collect() {
        this.reset();
        for (const d of flags.status().degraded) this.set({ model: d.model, fault: d.fault }, 1);
      },
    });
    const limiters = opts.limiters;
    new Gauge({
      name: 'aviary_router_upstream_in_flight',
      help: 'Requests in flight per upstream',
      labelNames: ['upstream'],
      registers,
      collect() {
        this.reset();
        for (const [upstream, l] of limiters.entries()) this.set({ upstream }, l.active);
      },
    });
    new Gauge({
      name: 'aviary_router_upstream_queued',
      help: 'Requests waiting for an upstream slot',
      labelNames: ['upstream'],
      registers,
      collect() {
        this.reset();
        for (const [upstream, l] of limiters.entries()) this.set({ upstream }, l.waiting);
      },
    });
  }

  record(o: OutcomeEvent): void {
    // Label objects are written out, not spread from each other: see SPREAD_THEN_KEYS in eslint.config.mjs.
    const model = o.model;
    const version = o.versionLabel;
    const role = o.role;
    const endpoint = o.endpoint ?? 'chat.completions';
    const labels = { model, version, role };
    const traffic = { model, version, role, endpoint };
    this.requests.inc({ model, version, role, endpoint, status: String(o.status) });
    if (o.errorClass) {
      this.errors.inc({ model, version, role, endpoint, error_class: o.errorClass });
      return;
    }
    if (o.refusal) this.refusals.inc(labels);
    if (o.empty) this.empty.inc(labels);
    if (o.jsonRequested) {
      this.jsonRequested.inc(labels);
      if (o.invalidJson) this.invalidJson.inc(labels);
      if (o.schemaInvalid) this.schemaInvalid.inc(labels);
    }
    if (o.toolCalls) {
      this.toolCalls.inc(labels, o.toolCalls);
      if (o.toolCallErrors) this.toolCallErrors.inc(labels, o.toolCallErrors);
    }
    this.latency.observe(traffic, o.latencyMs / 1000);
    if (o.ttftMs !== null) this.ttft.observe(traffic, o.ttftMs / 1000);
    if (o.interTokenMs != null) this.interToken.observe(traffic, o.interTokenMs / 1000);
    if (o.promptTokens !== null)
      this.tokens.inc({ model, version, role, endpoint, direction: 'in' }, o.promptTokens);
    if (o.completionTokens !== null)
      this.tokens.inc({ model, version, role, endpoint, direction: 'out' }, o.completionTokens);
  }
}

import {
  TOPICS,
  eventKey,
  type ErrorClass,
  type OutcomeEvent,
  type PairEvent,
  type PairSide,
} from '@aviary/contracts';
import type { EventPublisher, UpstreamTarget } from '@aviary/domain';
import type { DecodedRouting } from '@aviary/flags';
import type { RouterConfig } from '../config/router.config';
import type { RouterMetrics } from '../evidence/router-metrics';
import type { PrimaryResult } from '../chat/chat-handler';
import { type ChatRequest, contentText } from '../chat/chat-request';
import { readJsonCompletion } from '../chat/completion-reader';
import { classifyOutput } from '../chat/output-classifier';
import type { RefusalDetector } from '@aviary/domain';
import type { ConcurrencyLimiter } from '../upstream/concurrency-limiter';
import { type UpstreamClient, UpstreamError } from '../upstream/upstream-client';

const round = (ms: number) => Math.round(ms * 100) / 100;

/**
 * Sends a copy of a baseline-served request to the shadow version, beside the primary: its own
 * concurrency cap (full → shed and counted, never queued), its own timeout, non-streaming, and its
 * answer is only recorded. Nothing here can delay or fail the user's request.
 */
export class ShadowRunner {
  constructor(
    private readonly d: {
      config: RouterConfig;
      upstream: UpstreamClient;
      limiter: ConcurrencyLimiter;
      refusals: RefusalDetector;
      events: EventPublisher;
      metrics: RouterMetrics;
    },
  ) {}

  /** Sends the copy of a request whose primary has been answered (`primary`); never throws. */
  run(chat: ChatRequest, routing: DecodedRouting, target: UpstreamTarget, primary: PrimaryResult): void {
    const release = this.d.limiter.tryAcquire();
    if (!release) {
      this.d.metrics.shadowShed.inc({ model: chat.model });
      return;
    }
    this.call(chat, target)
      .then((side) => {
        release();
        this.record(chat, routing, target, side, primary);
      })
      .catch(() => release());
  }

  private async call(
    chat: ChatRequest,
    target: UpstreamTarget,
  ): Promise<PairSide & { ttftMs: number | null; promptTokens: number | null }> {
    const t0 = performance.now();
    const body: Record<string, unknown> = { ...chat.body, model: target.upstreamModel, stream: false };
    delete body['stream_options'];
    const base = { versionId: target.versionId, versionLabel: target.label };
    try {
      const res = await this.d.upstream.call(target, JSON.stringify(body), {
        timeoutMs: Math.min(target.timeoutMs, this.d.config.AVIARY_SHADOW_TIMEOUT_MS),
      });
      const summary = readJsonCompletion(await res.body());
      const cls = classifyOutput(summary.text, chat.jsonRequested, this.d.refusals);
      const errorClass: ErrorClass | null =
        res.status >= 400 ? 'upstream_4xx' : summary.malformed ? 'invalid_response' : null;
      return {
        ...base,
        status: res.status,
        errorClass,
        output: errorClass ? null : summary.text,
        ...(errorClass ? { refusal: false, empty: false, invalidJson: false } : cls),
        latencyMs: round(performance.now() - t0),
        ttftMs: round(res.ttfbMs),
        promptTokens: summary.promptTokens,
        completionTokens: summary.completionTokens,
      };
    } catch (err) {
      const e = err instanceof UpstreamError ? err : new UpstreamError('connect', String(err));
      return {
        ...base,
        status: e.status ?? (e.errorClass === 'timeout' ? 504 : 502),
        errorClass: e.errorClass,
        output: null,
        refusal: false,
        empty: false,
        invalidJson: false,
        latencyMs: round(performance.now() - t0),
        ttftMs: null,
        promptTokens: null,
        completionTokens: null,
      };
    }
  }

  private record(
    chat: ChatRequest,
    routing: DecodedRouting,
    target: UpstreamTarget,
    side: PairSide & { ttftMs: number | null; promptTokens: number | null },
    p: PrimaryResult,
  ): void {
    const at = new Date().toISOString();
    const outcome: OutcomeEvent = {
      schema: 'aviary.outcome.v1',
      requestId: p.requestId,
      at,
      model: chat.model,
      versionId: target.versionId,
      versionLabel: target.label,
      role: 'shadow',
      rolloutId: routing.rolloutId,
      revision: routing.revision,
      stickinessBucket: p.stickinessBucket,
      stream: false,
      status: side.status,
      errorClass: side.errorClass,
      fellBack: false,
      refusal: side.refusal,
      empty: side.empty,
      invalidJson: side.invalidJson,
      jsonRequested: chat.jsonRequested,
      latencyMs: side.latencyMs,
      ttftMs: side.ttftMs,
      promptTokens: side.promptTokens,
      completionTokens: side.completionTokens,
      outputChars: side.output?.length ?? 0,
    };
    this.d.metrics.record(outcome);
    this.d.events.publish(TOPICS.outcomes, eventKey(outcome), outcome);
    if (Math.random() >= this.d.config.AVIARY_CAPTURE_SAMPLE_RATE) return;
    const { ttftMs: _t, promptTokens: _p, ...shadowSide } = side;
    const pair: PairEvent = {
      schema: 'aviary.pair.v1',
      requestId: p.requestId,
      at,
      model: chat.model,
      rolloutId: routing.rolloutId,
      revision: routing.revision,
      jsonRequested: chat.jsonRequested,
      prompt: this.prompt(chat),
      baseline: {
        versionId: p.target.versionId,
        versionLabel: p.target.label,
        status: p.status,
        errorClass: p.errorClass,
        output: p.errorClass ? null : p.output,
        refusal: p.refusal,
        empty: p.empty,
        invalidJson: p.invalidJson,
        latencyMs: round(p.latencyMs),
        completionTokens: p.completionTokens,
      },
      shadow: shadowSide,
    };
    this.d.events.publish(TOPICS.pairs, eventKey(pair), pair);
  }

  private prompt(chat: ChatRequest): PairEvent['prompt'] {
    switch (this.d.config.AVIARY_CAPTURE_PROMPTS) {
      case 'drop':
        return null;
      case 'redact':
        return chat.messages.map((m) => ({
          role: m.role,
          content: `[redacted ${contentText(m.content).length} chars]`,
        }));
      default:
        return chat.messages.map((m) => ({ role: m.role, content: contentText(m.content) }));
    }
  }
}

import type { UpstreamTarget } from '@aviary/domain';
import type { RouterConfig } from '../config/router.config';
import type { EvidenceRecorder, RecordedSide, Side } from '../evidence/evidence-recorder';
import type { RouterMetrics } from '../evidence/router-metrics';
import type { Log } from '../http/router-log';
import type { Exchange } from '../serving/exchange';
import type { ConcurrencyLimiter } from '../upstream/concurrency-limiter';
import { type UpstreamClient, UpstreamError, type UpstreamResponse } from '../upstream/upstream-client';
import { failureStatus } from '../upstream/upstream-errors';
import { callLimits, type LimitDefaults } from '../upstream/upstream-limits';

/**
 * Sends a copy of a baseline-served request to the shadow version once the user has their answer:
 * its own concurrency cap (full → shed and counted, never queued), its own timeout and size cap,
 * and its answer is only recorded. A streamed primary is shadowed as a stream, read as it arrives,
 * so the shadow's time to first token and token gaps are measured like the primary's. Nothing here
 * can delay or fail the user's request.
 */
export class ShadowRunner {
  constructor(
    private readonly d: {
      readonly upstream: Pick<UpstreamClient, 'call'>;
      readonly limiter: ConcurrencyLimiter;
      readonly evidence: EvidenceRecorder;
      readonly metrics: RouterMetrics;
      readonly limits: LimitDefaults & Pick<RouterConfig, 'AVIARY_SHADOW_TIMEOUT_MS'>;
      /** Failed copies at debug level (they are evidence, counted by the analyzer, not incidents). */
      readonly log?: Log;
    },
  ) {}

  /** Sends the copy of an exchange whose primary has been answered (`primary`); never throws. */
  run(x: Exchange, target: UpstreamTarget, primary: RecordedSide): void {
    const release = this.d.limiter.tryAcquire();
    if (!release) {
      this.d.metrics.shadowShed.inc({ model: x.request.model });
      return;
    }
    // A child of the request's span that ends when the copy does, long after the user's answer.
    const span = x.scope.trace?.shadow(x, target) ?? null;
    this.call(x, target, primary.requestId, span?.traceparent)
      .then((side) => {
        release();
        span?.end(side);
        if (side.errorClass !== null)
          this.d.log?.(
            'debug',
            `shadow copy to ${target.label} failed: ${side.errorClass}`,
            Object.assign(x.scope.logFields(), {
              requestId: primary.requestId,
              version: target.label,
              role: 'shadow',
              errorClass: side.errorClass,
            }),
          );
        this.d.evidence.pair(x, primary, this.d.evidence.outcome(x, side));
      })
      .catch((err: unknown) => {
        release();
        span?.fail(err);
      });
  }

  private async call(
    x: Exchange,
    target: UpstreamTarget,
    requestId: string,
    traceparent: string | undefined,
  ): Promise<Side> {
    const t0 = performance.now();
    const base = { target, role: 'shadow' as const, requestId, fellBack: false };
    // Keys are added to fresh objects, never spread before them: see SPREAD_THEN_KEYS.
    const limits = Object.assign(
      callLimits(target, this.d.limits, 'shadow', this.d.limits.AVIARY_SHADOW_TIMEOUT_MS),
      { model: x.request.model },
    );
    try {
      const res = await this.d.upstream.call(
        target,
        x.endpoint.upstreamPath,
        x.endpoint.upstreamPayload(x.request, target, 'shadow'),
        traceparent ? Object.assign(limits, { traceparent }) : limits,
      );
      const contentType = String(res.headers['content-type'] ?? '');
      if (x.request.stream && contentType.includes('text/event-stream') && res.status < 400)
        return await this.readStream(x, res, base, t0);
      const answer = x.endpoint.readJson(await res.body(), x.request);
      return {
        stream: false,
        status: res.status,
        errorClass: res.status >= 400 ? 'upstream_4xx' : answer.malformed ? 'invalid_response' : null,
        answer,
        latencyMs: performance.now() - t0,
        ttftMs: res.ttfbMs,
        ...base,
      };
    } catch (err) {
      const e =
        err instanceof UpstreamError ? err : new UpstreamError('connect', String(err), null, null, err);
      return {
        stream: x.request.stream,
        status: failureStatus(e),
        errorClass: e.errorClass,
        answer: null,
        latencyMs: performance.now() - t0,
        ttftMs: null,
        ...base,
      };
    }
  }

  /** Reads a streamed copy to its end (a break or the size cap fails it, as for the primary). */
  private async readStream(
    x: Exchange,
    res: UpstreamResponse,
    base: Pick<Side, 'target' | 'role' | 'requestId' | 'fellBack'>,
    t0: number,
  ): Promise<Side> {
    const reader = x.endpoint.streamReader(x.request);
    if (res.first) reader.push(res.first);
    for await (const chunk of res.rest) reader.push(chunk);
    const answer = reader.finish();
    const first = reader.tokens.first;
    return {
      stream: true,
      status: res.status,
      errorClass: answer.malformed ? 'invalid_response' : null,
      answer,
      latencyMs: performance.now() - t0,
      ttftMs: first !== null ? first - res.startedAt : res.ttfbMs,
      interTokenMs: reader.tokens.meanGapMs(),
      ...base,
    };
  }
}

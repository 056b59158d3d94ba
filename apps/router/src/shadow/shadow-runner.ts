import type { UpstreamTarget } from '@aviary/domain';
import type { EvidenceRecorder, RecordedSide, Side } from '../evidence/evidence-recorder';
import type { RouterMetrics } from '../evidence/router-metrics';
import type { Exchange } from '../serving/exchange';
import type { ConcurrencyLimiter } from '../upstream/concurrency-limiter';
import type { RouterConfig } from '../config/router.config';
import { failureStatus } from '../upstream/upstream-errors';
import { callLimits, type LimitDefaults } from '../upstream/upstream-limits';
import { type UpstreamClient, UpstreamError } from '../upstream/upstream-client';

/**
 * Sends a copy of a baseline-served request to the shadow version once the user has their answer:
 * its own concurrency cap (full → shed and counted, never queued), its own timeout, and its answer is
 * only recorded. Nothing here can delay or fail the user's request.
 */
export class ShadowRunner {
  constructor(
    private readonly d: {
      readonly upstream: Pick<UpstreamClient, 'call'>;
      readonly limiter: ConcurrencyLimiter;
      readonly evidence: EvidenceRecorder;
      readonly metrics: RouterMetrics;
      readonly limits: LimitDefaults & Pick<RouterConfig, 'AVIARY_SHADOW_TIMEOUT_MS'>;
    },
  ) {}

  /** Sends the copy of an exchange whose primary has been answered (`primary`); never throws. */
  run(x: Exchange, target: UpstreamTarget, primary: RecordedSide): void {
    const release = this.d.limiter.tryAcquire();
    if (!release) {
      this.d.metrics.shadowShed.inc({ model: x.request.model });
      return;
    }
    this.call(x, target, primary.requestId)
      .then((side) => {
        release();
        this.d.evidence.pair(x, primary, this.d.evidence.outcome(x, side));
      })
      .catch(() => release());
  }

  private async call(x: Exchange, target: UpstreamTarget, requestId: string): Promise<Side> {
    const t0 = performance.now();
    const base = { target, role: 'shadow' as const, requestId, fellBack: false, stream: false };
    try {
      const res = await this.d.upstream.call(
        target,
        x.endpoint.upstreamPath,
        x.endpoint.upstreamPayload(x.request, target, 'shadow'),
        callLimits(target, this.d.limits, 'shadow', this.d.limits.AVIARY_SHADOW_TIMEOUT_MS),
      );
      const answer = x.endpoint.readJson(await res.body(), x.request);
      return {
        ...base,
        status: res.status,
        errorClass: res.status >= 400 ? 'upstream_4xx' : answer.malformed ? 'invalid_response' : null,
        answer,
        latencyMs: performance.now() - t0,
        ttftMs: res.ttfbMs,
      };
    } catch (err) {
      const e =
        err instanceof UpstreamError ? err : new UpstreamError('connect', String(err), null, null, err);
      return {
        ...base,
        status: failureStatus(e),
        errorClass: e.errorClass,
        answer: null,
        latencyMs: performance.now() - t0,
        ttftMs: null,
      };
    }
  }
}

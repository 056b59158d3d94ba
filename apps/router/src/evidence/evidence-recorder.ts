import {
  TOPICS,
  eventKey,
  type ErrorClass,
  type OutcomeEvent,
  type PairEvent,
  type PairSide,
  type ServingRole,
} from '@aviary/contracts';
import {
  answerCostUsd,
  type EventPublisher,
  type RefusalDetector,
  type UpstreamTarget,
} from '@aviary/domain';
import type { Answer } from '../answers/answer';
import { JsonSchemaCheck } from '../answers/json-schema-check';
import { classifyOutput, type OutputClass } from '../answers/output-classifier';
import type { CaptureMode } from '../endpoints/endpoint';
import type { Exchange } from '../serving/exchange';
import type { RouterMetrics } from './router-metrics';

/** How one upstream attempt of an exchange ended (served, failed or shadowed). */
export interface Side {
  readonly target: UpstreamTarget;
  readonly role: ServingRole;
  readonly requestId: string;
  readonly status: number;
  readonly errorClass: ErrorClass | null;
  /** A candidate failure answered by the baseline: set on both of their outcomes. */
  readonly fellBack: boolean;
  /** What the upstream answered; null when nothing usable came back. */
  readonly answer: Answer | null;
  readonly latencyMs: number;
  /** Time to the first token (streams) or first byte, from when the upstream call was sent. */
  readonly ttftMs: number | null;
  /** Streams: mean gap between token events. */
  readonly interTokenMs?: number | null;
  readonly stream: boolean;
}

/** A side once classified and recorded: what the shadow pair is built from. */
export interface RecordedSide extends Side {
  readonly outcome: OutcomeEvent;
}

const NOT_CLASSIFIED: OutputClass = Object.freeze({
  refusal: false,
  empty: false,
  invalidJson: false,
  schemaInvalid: false,
  toolCalls: 0,
  toolCallErrors: 0,
});
const round = (ms: number) => Math.round(ms * 100) / 100;
const approxTokens = (chars: number) => Math.ceil(chars / 4);

/**
 * Builds every evidence event the router emits — an outcome per upstream attempt, a pair per
 * shadowed request — and counts it in the metrics. The one place that knows the events' shape.
 */
export class EvidenceRecorder {
  private readonly schemas = new JsonSchemaCheck();

  constructor(
    private readonly d: {
      readonly events: EventPublisher;
      readonly metrics: RouterMetrics;
      readonly refusals: RefusalDetector;
      readonly captureSampleRate: number;
      readonly capturePrompts: CaptureMode;
      /** Answers are cut to this many characters in pair events (the analyzer compares them). */
      readonly captureMaxChars: number;
    },
  ) {}

  /** Classifies the side's answer, emits its outcome event and returns it for the pair. */
  outcome(x: Exchange, side: Side): RecordedSide {
    const { request, routing } = x;
    const answer = side.answer;
    const cls =
      side.errorClass === null && answer
        ? classifyOutput(answer, request, this.d.refusals, this.schemas)
        : NOT_CLASSIFIED;
    const promptTokens = answer ? (answer.promptTokens ?? approxTokens(request.promptChars)) : null;
    const completionTokens = answer
      ? (answer.completionTokens ?? (answer.text ? approxTokens(answer.text.length) : 0))
      : null;
    const costUsd =
      side.errorClass === null ? answerCostUsd(side.target.prices, promptTokens, completionTokens) : null;
    const outcome: OutcomeEvent = {
      schema: 'aviary.outcome.v1',
      requestId: side.requestId,
      at: new Date().toISOString(),
      model: request.model,
      versionId: side.target.versionId,
      versionLabel: side.target.label,
      role: side.role,
      rolloutId: routing.rolloutId,
      revision: routing.revision,
      // A shadow copy answers its primary's request: same user, same cluster.
      stickinessBucket: x.bucket,
      stream: side.stream,
      status: side.status,
      errorClass: side.errorClass,
      fellBack: side.fellBack,
      refusal: cls.refusal,
      empty: cls.empty,
      invalidJson: cls.invalidJson,
      jsonRequested: request.jsonRequested,
      latencyMs: round(side.latencyMs),
      ttftMs: side.ttftMs === null ? null : round(side.ttftMs),
      promptTokens,
      completionTokens,
      outputChars: answer?.text.length ?? 0,
      endpoint: x.endpoint.name,
      ...(x.scope.key ? { keyId: x.scope.key.id } : {}),
      ...(routing.cohort ? { cohort: true } : {}),
      ...(x.forced ? { forced: true } : {}),
      ...(side.interTokenMs != null ? { interTokenMs: round(side.interTokenMs) } : {}),
      ...(cls.toolCalls > 0 ? { toolCalls: cls.toolCalls, toolCallErrors: cls.toolCallErrors } : {}),
      ...(cls.schemaInvalid ? { schemaInvalid: true } : {}),
      ...(costUsd !== null ? { costUsd } : {}),
    };
    this.d.metrics.record(outcome);
    this.d.events.publish(TOPICS.outcomes, eventKey(outcome), outcome);
    return { outcome, ...side }; // spread last: see SPREAD_THEN_KEYS
  }

  /** The baseline's and the shadow's answers to one request, side by side (sampled). */
  pair(x: Exchange, baseline: RecordedSide, shadow: RecordedSide): void {
    if (Math.random() >= this.d.captureSampleRate) return;
    const pair: PairEvent = {
      schema: 'aviary.pair.v1',
      requestId: baseline.requestId,
      at: new Date().toISOString(),
      model: x.request.model,
      rolloutId: x.routing.rolloutId,
      revision: x.routing.revision,
      jsonRequested: x.request.jsonRequested,
      prompt: x.endpoint.pairPrompt(x.request, this.d.capturePrompts),
      baseline: pairSide(baseline, this.d.captureMaxChars),
      shadow: pairSide(shadow, this.d.captureMaxChars),
      endpoint: x.endpoint.name,
    };
    if (x.endpoint.similarity) {
      const measured =
        baseline.answer && shadow.answer && !baseline.errorClass && !shadow.errorClass
          ? x.endpoint.similarity(baseline.answer, shadow.answer)
          : null;
      pair.similarity = measured === null ? null : Math.min(1, Math.max(0, measured));
    }
    this.d.events.publish(TOPICS.pairs, eventKey(pair), pair);
  }
}

/** What an embeddings answer looks like in a pair (the vectors themselves are compared by the router). */
function describeVectors(vectors: readonly Float32Array[]): string {
  return `[${vectors.length} embedding${vectors.length === 1 ? '' : 's'} of ${vectors[0]?.length ?? 0} dimensions]`;
}

function pairSide(s: RecordedSide, maxChars: number): PairSide {
  const o = s.outcome;
  const text =
    o.errorClass || !s.answer ? null : s.answer.vectors ? describeVectors(s.answer.vectors) : s.answer.text;
  return {
    versionId: o.versionId,
    versionLabel: o.versionLabel,
    status: o.status,
    errorClass: o.errorClass,
    output: text !== null && text.length > maxChars ? text.slice(0, maxChars) : text,
    refusal: o.refusal,
    empty: o.empty,
    invalidJson: o.invalidJson,
    latencyMs: o.latencyMs,
    completionTokens: o.completionTokens,
  };
}

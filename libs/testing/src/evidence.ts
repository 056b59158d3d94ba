import { randomUUID } from 'node:crypto';
import type { OutcomeEvent } from '@aviary/contracts';

/**
 * A plausible outcome event (a candidate's 200 answer, no failure signal) for tests that feed the
 * analyzer or the metrics; `over` sets what the test is about. A fresh request id each call.
 */
export function outcomeEvent(over: Partial<OutcomeEvent> = {}): OutcomeEvent {
  return {
    schema: 'aviary.outcome.v1',
    requestId: `avy-${randomUUID()}`,
    at: new Date().toISOString(),
    model: 'm',
    versionId: 'v2-id',
    versionLabel: 'v2',
    role: 'candidate',
    rolloutId: null,
    revision: 7,
    stickinessBucket: 3,
    stream: false,
    status: 200,
    errorClass: null,
    fellBack: false,
    refusal: false,
    empty: false,
    invalidJson: false,
    jsonRequested: false,
    latencyMs: 120,
    ttftMs: 40,
    promptTokens: 10,
    completionTokens: 20,
    outputChars: 80,
    ...over,
  };
}

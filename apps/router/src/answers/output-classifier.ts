import type { RefusalDetector } from '@aviary/domain';

export interface OutputClass {
  readonly refusal: boolean;
  readonly empty: boolean;
  readonly invalidJson: boolean;
}

/** Silent failures a bad model produces: refusals, empty answers, broken JSON when JSON was asked for. */
export function classifyOutput(text: string, jsonRequested: boolean, refusals: RefusalDetector): OutputClass {
  const trimmed = text.trim();
  const empty = trimmed.length === 0;
  let invalidJson = false;
  if (jsonRequested) {
    try {
      JSON.parse(stripFence(trimmed));
    } catch {
      invalidJson = true;
    }
  }
  return { refusal: !empty && refusals.isRefusal(trimmed), empty, invalidJson };
}

/** Models often wrap JSON in a ```json fence; the payload is still usable. */
function stripFence(s: string): string {
  const m = /^```(?:json)?\s*([\s\S]*?)\s*```$/i.exec(s);
  return m?.[1] ?? s;
}

import type { PairEvent } from '@aviary/contracts';
import { type CaptureMode, RequestError } from './endpoint';

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The body as a JSON object, or a RequestError saying why not. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new RequestError('We could not parse the JSON body of your request.', null);
  }
  if (!isObject(body)) throw new RequestError('The request body must be a JSON object.', null);
  return body;
}

/** Text of a message's content (string, or the text parts of an array). */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p: unknown) => (isObject(p) && typeof p['text'] === 'string' ? p['text'] : ''))
      .join('');
  }
  return '';
}

/** A prompt as pair events carry it: kept, with contents redacted, or dropped. */
export function promptOf(
  messages: ReadonlyArray<{ role: string; content: string }>,
  mode: CaptureMode,
): PairEvent['prompt'] {
  switch (mode) {
    case 'drop':
      return null;
    case 'redact':
      return messages.map((m) => ({ role: m.role, content: `[redacted ${m.content.length} chars]` }));
    default:
      return messages.map((m) => ({ role: m.role, content: m.content }));
  }
}

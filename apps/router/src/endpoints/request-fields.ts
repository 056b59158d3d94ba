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

/** Deeper than this, a field is reported as the reason a body cannot be forwarded. */
const MAX_DEPTH = 1000;

/**
 * The body as sent upstream, with the upstream's model name. JSON.parse takes any nesting, but
 * JSON.stringify recurses: a field nested some thousands deep cannot be re-serialised, and the
 * request is answered 400 naming that field (it used to reset the connection).
 */
export function withModel(
  body: Record<string, unknown>,
  model: string,
  extra?: Record<string, unknown>,
): string {
  try {
    return JSON.stringify({ ...body, model, ...extra });
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    const field = Object.keys(body).find((k) => depthExceeds(body[k], MAX_DEPTH)) ?? null;
    throw new RequestError(
      field
        ? `'${field}' is nested too deeply to be forwarded (more than ${MAX_DEPTH} levels).`
        : 'The request body is nested too deeply to be forwarded.',
      field,
      'nesting_too_deep',
    );
  }
}

/** Whether a parsed JSON value nests deeper than `limit`, without recursing. */
function depthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
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

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

/** The fields every endpoint reads: model, stream and the user for stickiness. Null means absent. */
export function commonFields(
  body: Record<string, unknown>,
  opts: { streams: boolean } = { streams: true },
): { model: string; stream: boolean; user: string | null } {
  const { model, stream, user } = body;
  if (typeof model !== 'string' || model.length === 0)
    throw new RequestError("'model' must be a non-empty string.", 'model');
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean')
    throw new RequestError("'stream' must be a boolean.", 'stream');
  if (!opts.streams && stream === true)
    throw new RequestError("This endpoint does not stream: 'stream' must be false or absent.", 'stream');
  if (user !== undefined && user !== null && typeof user !== 'string')
    throw new RequestError("'user' must be a string.", 'user');
  return { model, stream: stream === true, user: typeof user === 'string' && user.length > 0 ? user : null };
}

/** An optional object field (null counts as absent). */
export function optionalObject(
  body: Record<string, unknown>,
  field: string,
): Record<string, unknown> | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new RequestError(`'${field}' must be an object.`, field);
  return v;
}

/**
 * The body of a shadow copy: streamed like the primary (so its time to first token is measured),
 * with usage asked for in the stream (chat and completions send it only when asked).
 */
export function shadowBody(request: { body: Record<string, unknown>; stream: boolean }): {
  body: Record<string, unknown>;
  extra: Record<string, unknown>;
} {
  const { stream_options: options, ...body } = request.body;
  if (!request.stream) return { body, extra: { stream: false } };
  return {
    body,
    extra: {
      stream: true,
      stream_options: Object.assign({}, isObject(options) ? options : {}, { include_usage: true }),
    },
  };
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
    // Not `{ ...body, model, ...extra }`: see SPREAD_THEN_KEYS. Same keys, same order.
    return JSON.stringify(Object.assign({}, body, { model }, extra));
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

/**
 * Names of the tools a request offers: chat's `tools` ({type:'function', function:{name}} or
 * {type:'custom', custom:{name}}), the Responses API's flat ones ({type:'function', name}), and the
 * legacy `functions`. Null when none are offered. Built-in tools (web search…) are called by the
 * platform, not answered as tool calls, and are not counted.
 */
export function offeredTools(tools: unknown, functions?: unknown): ReadonlySet<string> | null {
  if (!Array.isArray(tools) && !Array.isArray(functions)) return null;
  const names = new Set<string>();
  for (const t of Array.isArray(tools) ? (tools as unknown[]) : []) {
    if (!isObject(t)) continue;
    const nested = t['function'] ?? t['custom'];
    const name = isObject(nested) ? nested['name'] : t['name'];
    if (typeof name === 'string') names.add(name);
  }
  for (const f of Array.isArray(functions) ? (functions as unknown[]) : [])
    if (isObject(f) && typeof f['name'] === 'string') names.add(f['name']);
  return names.size > 0 ? names : null;
}

/** The schema of a `json_schema` response format (chat: {json_schema:{schema}}, responses: {schema}). */
export function formatSchema(format: Record<string, unknown> | undefined): unknown {
  if (format?.['type'] !== 'json_schema') return undefined;
  const nested = format['json_schema'];
  return isObject(nested) ? nested['schema'] : format['schema'];
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

import type { IncomingHttpHeaders } from 'node:http';
import { createHash } from 'node:crypto';
import { randomToken } from '../http/random-token';

export interface StickinessKey {
  /** What the split is bucketed on. */
  readonly key: string;
  /** Where it came from; `random` requests are not sticky. */
  readonly source: 'conversation' | 'user' | 'body-user' | 'random';
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.length > 0 && s.length <= 512 ? s : null;
}

/**
 * A conversation wins over a user: a thread must never switch version halfway while the split is
 * unchanged. The conversation header first, then the thread the request continues (`thread`: the key
 * its first turn was bucketed on, or the API's own conversation id as `c:<id>`), then the user.
 * Without any, each request is bucketed at random.
 */
export function stickinessKey(
  headers: IncomingHttpHeaders,
  bodyUser: string | null,
  thread: string | null = null,
): StickinessKey {
  const conversation = header(headers, 'x-aviary-conversation');
  if (conversation) return { key: `c:${conversation}`, source: 'conversation' };
  if (thread) return { key: thread, source: 'conversation' };
  const user = header(headers, 'x-aviary-user');
  if (user) return { key: `u:${user}`, source: 'user' };
  if (bodyUser) return { key: `u:${bodyUser}`, source: 'body-user' };
  return { key: `r:${randomToken(9)}`, source: 'random' };
}

/** 0-99: lets the analyzer check arm balance without ever seeing the key. */
export function stickinessBucket(s: StickinessKey): number | null {
  if (s.source === 'random') return null;
  return createHash('sha1').update(s.key).digest().readUInt32BE(0) % 100;
}

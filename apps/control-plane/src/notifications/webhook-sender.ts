import { createHmac } from 'node:crypto';
import { Agent, request } from 'undici';
import { type NotificationPayload, slackMessage } from '@aviary/domain';
import { type DestinationType } from './notification.schemas';

export const SIGNATURE_HEADER = 'x-aviary-signature';
export const TIMESTAMP_HEADER = 'x-aviary-timestamp';

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, `<timestamp>.<body>`). The timestamp is signed with the body
 * (as Stripe and Slack do), so a receiver that rejects old timestamps also rejects replays.
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

export interface SendTarget {
  readonly type: DestinationType;
  readonly url: string;
  readonly secret: string | null;
}

export type SendResult =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false;
      /** The receiver's status, null when it did not answer. */
      readonly status: number | null;
      readonly error: string;
      /** The receiver's Retry-After in ms (429, 503), if it gave one. */
      readonly retryAfterMs: number | null;
    };

/**
 * POSTs notifications. Redirects are not followed (a destination is the URL an admin configured,
 * not wherever it points on), response bodies are read only for an error line and never stored in
 * full, and every attempt is bounded by the timeout.
 */
export class WebhookSender {
  private readonly agent: Agent;

  constructor(private readonly timeoutMs: number) {
    this.agent = new Agent({ connectTimeout: timeoutMs, keepAliveTimeout: 10_000 });
  }

  async send(
    target: SendTarget,
    payload: NotificationPayload,
    meta: { deliveryId: string; now?: Date },
  ): Promise<SendResult> {
    const body = JSON.stringify(target.type === 'slack' ? slackMessage(payload) : payload);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Aviary-Notifications/1',
    };
    if (target.type === 'webhook') {
      const timestamp = String(Math.floor((meta.now ?? new Date()).getTime() / 1000));
      headers['x-aviary-event'] = payload.kind;
      headers['x-aviary-delivery'] = meta.deliveryId;
      headers[TIMESTAMP_HEADER] = timestamp;
      if (target.secret) headers[SIGNATURE_HEADER] = signature(target.secret, timestamp, body);
    }
    try {
      const res = await request(target.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await readSome(res.body);
      if (res.statusCode >= 200 && res.statusCode < 300) return { ok: true, status: res.statusCode };
      return {
        ok: false,
        status: res.statusCode,
        error: `HTTP ${res.statusCode}${text ? `: ${text}` : ''}`,
        retryAfterMs: retryAfter(res.headers['retry-after']),
      };
    } catch (err) {
      return { ok: false, status: null, error: describe(err), retryAfterMs: null };
    }
  }

  /** Cuts attempts in flight (they fail as `aborted`) and closes the connections. */
  async destroy(): Promise<void> {
    await this.agent.destroy(new Error('aborted: Aviary is shutting down'));
  }
}

/** The first 200 characters of an answer: enough to say why, never a stored copy of it. */
async function readSome(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += chunk.toString('utf8');
      if (text.length >= 200) break;
    }
  } catch {
    // The status already says enough.
  } finally {
    body.destroy();
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

function retryAfter(value: string | string[] | undefined): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const seconds = Number(v);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string } };
  if (
    e.name === 'TimeoutError' ||
    e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_CONNECT_TIMEOUT'
  )
    return 'timed out';
  const code = e.code ?? e.cause?.code;
  return code ? `${code}${e.message ? `: ${e.message}` : ''}` : (e.message ?? String(err));
}

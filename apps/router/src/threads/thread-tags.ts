import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';

/**
 * What a stored answer's id carries through the client and back, so that a request continuing it
 * (the Responses API's `previous_response_id`) can be routed the way its thread started, by any
 * router replica, without a shared store.
 */
export interface ThreadOrigin {
  /** The stickiness key the thread started on (`u:…`, `c:…`, or `r:…` for a start without a user). */
  readonly key: string;
  /** The Aviary model the thread belongs to. */
  readonly model: string;
  /** The version that stored the answer. */
  readonly versionId: string;
}

/** A tagged id taken apart: the upstream's own id, and the origin when the seal could be opened. */
export interface OpenedTag {
  readonly upstreamId: string;
  /** Null when the seal is not ours (another router's per-process key, or tampered). */
  readonly origin: ThreadOrigin | null;
}

/** What the Responses API's ids start with, and the Conversations API's: a tagged id keeps it. */
export const RESPONSE_PREFIX = 'resp_';
export const CONVERSATION_PREFIX = 'conv_';

const MARK = 'avr.';
const IV_BYTES = 12;
const AUTH_TAG_BYTES = 16;
const MAX_ID_CHARS = 1024;

/**
 * Ids of stored answers as the client sees them: `<prefix>avr.<seal>.<upstream id>`. The seal is the
 * thread's origin encrypted and authenticated (AES-256-GCM, bound to the upstream id) with a key
 * derived from the router secret: the user id inside it stays private, and a forged or altered seal
 * opens to nothing. The upstream id stays readable, so an id always maps back to the upstream's own
 * even where the seal cannot be opened.
 *
 * Tagging is deterministic: one upstream id of one thread gets the same tagged id every time (the
 * nonce is a MAC of the upstream id and the origin, as in AES-GCM-SIV's synthetic IV), so an id the
 * router hands out again later (a response's `previous_response_id`, or the response read back) is
 * the very string the client already holds. What that reveals is only that two ids are the same id.
 */
export class ThreadTags {
  private readonly key: Buffer;
  private readonly nonceKey: Buffer;

  constructor(secret: Buffer) {
    this.key = createHmac('sha256', secret).update('aviary thread tags v1').digest();
    this.nonceKey = createHmac('sha256', secret).update('aviary thread tag nonces v1').digest();
  }

  tag(prefix: string, upstreamId: string, origin: ThreadOrigin): string {
    const plain = Buffer.from(`${origin.key}\u0000${origin.model}\u0000${origin.versionId}`, 'utf8');
    const iv = createHmac('sha256', this.nonceKey)
      .update(upstreamId, 'utf8')
      .update('\u0000')
      .update(plain)
      .digest()
      .subarray(0, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(upstreamId, 'utf8'));
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return `${prefix}${MARK}${sealed.toString('base64url')}.${upstreamId}`;
  }

  /** Null when the id is not a tagged one (an upstream's own id passes through as it is). */
  open(prefix: string, id: string): OpenedTag | null {
    const head = prefix + MARK;
    if (!id.startsWith(head) || id.length > MAX_ID_CHARS) return null;
    const dot = id.indexOf('.', head.length);
    if (dot === -1 || dot === id.length - 1) return null;
    const upstreamId = id.slice(dot + 1);
    return { upstreamId, origin: this.unseal(id.slice(head.length, dot), upstreamId) };
  }

  private unseal(seal: string, upstreamId: string): ThreadOrigin | null {
    const bytes = Buffer.from(seal, 'base64url');
    if (bytes.length <= IV_BYTES + AUTH_TAG_BYTES) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(upstreamId, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - AUTH_TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - AUTH_TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
      const [key, model, versionId, extra] = plain.split('\u0000');
      if (!key || !model || !versionId || extra !== undefined) return null;
      return { key, model, versionId };
    } catch {
      return null;
    }
  }
}

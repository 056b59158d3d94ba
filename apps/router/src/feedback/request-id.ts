import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ServingRole } from '@aviary/contracts';
import { randomToken } from '../http/random-token';

/** What a request id remembers about who served it, so feedback can be attributed later by any replica. */
export interface ServedBy {
  readonly model: string;
  readonly versionId: string;
  readonly versionLabel: string;
  readonly role: ServingRole;
  readonly rolloutId: string | null;
  readonly revision: number;
  /** Unix seconds. */
  readonly at: number;
  /**
   * The request's stickiness bucket (0-99), null when unsticky; undefined in ids issued before it was
   * recorded. Feedback carries it so the analyzer counts a rating in the same user cluster as the answer.
   */
  readonly stickinessBucket?: number | null;
  /** Served by a forced version or a cohort rule: its feedback is not evidence either. */
  readonly notEvidence?: true;
}

const PREFIX = 'avy-';
const MAC_BYTES = 10;
const ROLE_CODES: Record<ServingRole, number> = { baseline: 0, candidate: 1, shadow: 2 };
const ROLES: ServingRole[] = ['baseline', 'candidate', 'shadow'];
/** Set on the role byte for answers that are not evidence (older routers reject such ids). */
const NOT_EVIDENCE_BIT = 0x80;

/**
 * Request ids carry their own attribution, signed: `avy-<random>.<payload>.<mac>`. Feedback then
 * needs no database or shared cache on the request path, and a forged id is rejected.
 */
export class RequestIds {
  constructor(private readonly secret: Buffer) {}

  issue(served: ServedBy): string {
    const nonce = randomToken(9);
    const payload = encodePayload(served).toString('base64url');
    return `${PREFIX}${nonce}.${payload}.${this.mac(nonce, payload)}`;
  }

  /** The attribution inside a request id, or null when it is malformed or was not signed by us. */
  verify(id: string): ServedBy | null {
    if (!id.startsWith(PREFIX) || id.length > 400) return null;
    const [nonce, payload, mac, extra] = id.slice(PREFIX.length).split('.');
    if (!nonce || !payload || !mac || extra !== undefined) return null;
    const expected = Buffer.from(this.mac(nonce, payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    try {
      return decodePayload(Buffer.from(payload, 'base64url'));
    } catch {
      return null;
    }
  }

  private mac(nonce: string, payload: string): string {
    return createHmac('sha256', this.secret)
      .update(`${nonce}.${payload}`)
      .digest()
      .subarray(0, MAC_BYTES)
      .toString('base64url');
  }
}

/** The encoded strings of a payload, by what they encode: a router serves few model versions. */
const encodedStrings = new Map<string, Buffer>();
const MAX_CACHED = 1024;

function stringsOf(s: ServedBy): Buffer {
  const key = `${s.model}\u0000${s.versionId}\u0000${s.versionLabel}\u0000${s.rolloutId ?? ''}`;
  let encoded = encodedStrings.get(key);
  if (!encoded) {
    const strings = [s.model, s.versionId, s.versionLabel, s.rolloutId ?? ''].map((x) =>
      Buffer.from(x, 'utf8').subarray(0, 255),
    );
    encoded = Buffer.concat(strings.flatMap((b) => [Buffer.from([b.length]), b]));
    if (encodedStrings.size >= MAX_CACHED) encodedStrings.clear();
    encodedStrings.set(key, encoded);
  }
  return encoded;
}

function encodePayload(s: ServedBy): Buffer {
  const strings = stringsOf(s);
  // The bucket trails the strings, so ids without it (issued by older routers) still decode.
  const withBucket = s.stickinessBucket !== undefined;
  const buf = Buffer.allocUnsafe(9 + strings.length + (withBucket ? 1 : 0));
  buf.writeUInt8(ROLE_CODES[s.role] | (s.notEvidence ? NOT_EVIDENCE_BIT : 0), 0);
  buf.writeUInt32BE(s.revision >>> 0, 1);
  buf.writeUInt32BE(s.at >>> 0, 5);
  strings.copy(buf, 9);
  if (withBucket) buf.writeUInt8(bucketByte(s.stickinessBucket ?? null), 9 + strings.length);
  return buf;
}

const NO_BUCKET = 0xff;

function bucketByte(bucket: number | null): number {
  return bucket !== null && Number.isInteger(bucket) && bucket >= 0 && bucket < 100 ? bucket : NO_BUCKET;
}

function decodePayload(buf: Buffer): ServedBy {
  const roleByte = buf.readUInt8(0);
  const role = ROLES[roleByte & ~NOT_EVIDENCE_BIT];
  if (!role) throw new Error('bad role');
  const revision = buf.readUInt32BE(1);
  const at = buf.readUInt32BE(5);
  let offset = 9;
  const next = () => {
    const len = buf.readUInt8(offset);
    const s = buf.subarray(offset + 1, offset + 1 + len).toString('utf8');
    if (offset + 1 + len > buf.length) throw new Error('truncated');
    offset += 1 + len;
    return s;
  };
  const model = next();
  const versionId = next();
  const versionLabel = next();
  const rolloutId = next();
  if (!model || !versionId) throw new Error('missing fields');
  const served: ServedBy = {
    model,
    versionId,
    versionLabel,
    role,
    rolloutId: rolloutId || null,
    revision,
    at,
    ...(roleByte & NOT_EVIDENCE_BIT ? { notEvidence: true as const } : {}),
  };
  if (offset >= buf.length) return served;
  const bucket = buf.readUInt8(offset);
  return Object.assign({}, served, { stickinessBucket: bucket < 100 ? bucket : null });
}

import { randomFillSync } from 'node:crypto';

/** Random bytes drawn from the CSPRNG 4 KiB at a time (request ids, nonces, unsticky keys). */
const pool = Buffer.alloc(4096);
let offset = pool.length;

/**
 * `bytes` fresh random bytes (at most 4 KiB), base64url. Same CSPRNG as crypto.randomBytes, but one
 * draw serves ~450 nine-byte ids: a draw per id was a visible share of the router's CPU per request
 * in the benchmark's profile (three per request: nonce, request id, stickiness key). No byte is
 * handed out twice.
 */
export function randomToken(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + bytes);
  offset += bytes;
  return token;
}

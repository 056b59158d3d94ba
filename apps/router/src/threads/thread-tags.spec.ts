import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { ThreadTags } from './thread-tags';

const secret = Buffer.from('a-router-secret-of-the-fleet');
const origin = { key: 'u:alice@example.com', model: 'support-chat', versionId: 'a1b2c3d4-version' };

describe(ThreadTags.name, () => {
  const tags = new ThreadTags(secret);

  it('gives the thread origin back on any router with the same secret, and the upstream id', () => {
    const id = tags.tag('resp_', 'resp_0123abc', origin);
    expect(id.startsWith('resp_avr.')).toBe(true);
    expect(id.endsWith('.resp_0123abc')).toBe(true);
    expect(new ThreadTags(Buffer.from(secret)).open('resp_', id)).toEqual({
      upstreamId: 'resp_0123abc',
      origin,
    });
  });

  it('keeps the user private: the key is not readable in the id', () => {
    const id = tags.tag('resp_', 'resp_1', origin);
    expect(id).not.toContain('alice');
    expect(Buffer.from(id.split('.')[1]!, 'base64url').toString('latin1')).not.toContain('alice');
    // Two answers of one thread do not share an id part.
    const other = tags.tag('resp_', 'resp_2', origin);
    expect(other.split('.')[1]!.slice(0, 16)).not.toBe(id.split('.')[1]!.slice(0, 16));
  });

  it('tags one stored answer of one thread the same way every time, on any router of the fleet', () => {
    const id = tags.tag('resp_', 'resp_1', origin);
    expect(new ThreadTags(Buffer.from(secret)).tag('resp_', 'resp_1', origin)).toBe(id);
    expect(tags.tag('resp_', 'resp_1', { ...origin, versionId: 'another-version' })).not.toBe(id);
    expect(tags.tag('resp_', 'resp_1', { ...origin, key: 'u:bob' })).not.toBe(id);
    expect(new ThreadTags(Buffer.from('another-secret-entirely')).tag('resp_', 'resp_1', origin)).not.toBe(
      id,
    );
  });

  it('still opens seals made with a random nonce (ids handed out before tagging was deterministic)', () => {
    const id = tags.tag('resp_', 'resp_5', origin);
    const sealed = Buffer.from(id.split('.')[1]!, 'base64url');
    // Same key, another nonce: what a router of the previous release made for this origin.
    const key = createHmac('sha256', secret).update('aviary thread tags v1').digest();
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from('resp_5'));
    const plain = Buffer.from(`${origin.key}\u0000${origin.model}\u0000${origin.versionId}`);
    const old = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    expect(old.length).toBe(sealed.length);
    expect(tags.open('resp_', `resp_avr.${old.toString('base64url')}.resp_5`)).toEqual({
      upstreamId: 'resp_5',
      origin,
    });
  });

  it('opens a seal of another secret, or a tampered one, to no origin but still to the upstream id', () => {
    const id = tags.tag('resp_', 'resp_9', origin);
    expect(new ThreadTags(Buffer.from('another-secret-entirely')).open('resp_', id)).toEqual({
      upstreamId: 'resp_9',
      origin: null,
    });
    const seal = id.split('.')[1]!;
    const flipped = seal.slice(0, 20) + (seal[20] === 'A' ? 'B' : 'A') + seal.slice(21);
    expect(tags.open('resp_', id.replace(seal, flipped))).toEqual({ upstreamId: 'resp_9', origin: null });
    // Bound to its upstream id: moved onto another response, it opens to nothing.
    expect(tags.open('resp_', id.replace('.resp_9', '.resp_8'))).toEqual({
      upstreamId: 'resp_8',
      origin: null,
    });
  });

  // prettier-ignore
  it.each([
    { name: 'an upstream id', id: 'resp_0123abc' },
    { name: 'another prefix', id: 'msg_avr.abc.resp_1' },
    { name: 'no upstream id', id: 'resp_avr.abc.' },
    { name: 'no dot after the seal', id: 'resp_avr.abc' },
    { name: 'too long', id: `resp_avr.${'a'.repeat(2000)}.resp_1` },
  ])('leaves $name alone', ({ id }) => {
    expect(tags.open('resp_', id)).toBeNull();
  });

  it('keeps an upstream id with dots whole (an id tagged by an Aviary in front of another)', () => {
    const inner = tags.tag('resp_', 'resp_x', origin);
    const outer = tags.tag('resp_', inner, { ...origin, key: 'c:thread' });
    expect(tags.open('resp_', outer)).toEqual({ upstreamId: inner, origin: { ...origin, key: 'c:thread' } });
  });
});

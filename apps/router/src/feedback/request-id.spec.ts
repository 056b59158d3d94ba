import { RequestIds, type ServedBy } from './request-id';

const served: ServedBy = {
  model: 'support-chat',
  versionId: '4938a736-208c-4919-9aae-0aad8272ce59',
  versionLabel: 'llama-8b-awq',
  role: 'candidate',
  rolloutId: '2b5d8dd0-54f8-4d6c-a302-ea561cca69a4',
  revision: 12,
  at: 1_790_000_000,
};

describe(RequestIds.name, () => {
  const ids = new RequestIds(Buffer.from('a-shared-secret-of-enough-length'));

  it('round-trips who served a request, on any replica with the same secret', () => {
    const id = ids.issue(served);
    expect(new RequestIds(Buffer.from('a-shared-secret-of-enough-length')).verify(id)).toEqual(served);
    expect(id.length).toBeLessThan(200);
  });

  it('remembers that an answer is not evidence (forced or cohort-routed), and says nothing otherwise', () => {
    expect(ids.verify(ids.issue({ ...served, notEvidence: true }))).toEqual({ ...served, notEvidence: true });
    expect(ids.verify(ids.issue(served))).not.toHaveProperty('notEvidence');
  });

  it('keeps a null rollout null', () => {
    expect(ids.verify(ids.issue({ ...served, rolloutId: null }))?.rolloutId).toBeNull();
  });

  it('rejects ids signed with another secret, tampered payloads and garbage', () => {
    const id = ids.issue(served);
    expect(new RequestIds(Buffer.from('another-secret-entirely-000000')).verify(id)).toBeNull();
    const [head, payload, mac] = id.split('.');
    const tampered = Buffer.from(payload!, 'base64url');
    tampered[0] = 0; // candidate → baseline
    expect(ids.verify(`${head}.${tampered.toString('base64url')}.${mac}`)).toBeNull();
    for (const junk of ['', 'avy-', 'avy-a.b', 'avy-a.b.c.d', 'req_123', 'avy-' + 'x'.repeat(500)])
      expect(ids.verify(junk)).toBeNull();
  });

  it('carries the stickiness bucket, and still decodes ids issued before it was added', () => {
    expect(ids.verify(ids.issue({ ...served, stickinessBucket: 42 }))?.stickinessBucket).toBe(42);
    expect(ids.verify(ids.issue({ ...served, stickinessBucket: null }))?.stickinessBucket).toBeNull();
    // An id of the earlier layout: the same payload without the trailing bucket byte.
    const old = ids.issue(served);
    expect(ids.verify(old)).toEqual(served);
    expect(ids.verify(old)).not.toHaveProperty('stickinessBucket');
  });

  it('gives every request a different id', () => {
    expect(ids.issue(served)).not.toBe(ids.issue(served));
  });
});

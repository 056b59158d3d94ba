import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@aviary/testing';
import { ADMIN_TOKEN, fastPlan, startTestControlPlane, type TestControlPlane } from './harness';

/** An upstream that answers every chat completion with "ok" and remembers the headers it was sent. */
async function recordingUpstream(): Promise<{ url: string; seen: IncomingHttpHeaders[]; server: Server }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'ok' } }] })),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen, server };
}

describe('upstream credentials', () => {
  let t: TestControlPlane;
  let operator: string;
  let upstream: Awaited<ReturnType<typeof recordingUpstream>>;

  beforeAll(async () => {
    process.env['AVIARY_UPSTREAM_KEY_GOLDEN_UP'] = 'sk-golden-upstream';
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'guardrails' });
    operator = (await t.api<{ token: string }>('POST', '/api/v1/tokens', { name: 'ops', role: 'operator' }))
      .body.token;
    upstream = await recordingUpstream();
  });
  afterAll(async () => {
    delete process.env['AVIARY_UPSTREAM_KEY_GOLDEN_UP'];
    await new Promise<void>((r) => upstream?.server.close(() => r()));
    await t?.close();
  });

  const model = (name: string) => t.api('POST', '/api/v1/models', { name });

  it("refuses a version that names one of Aviary's own env vars, so an operator cannot receive the admin token", async () => {
    await model('steal');
    for (const apiKeyRef of ['AVIARY_ADMIN_TOKEN', 'DATABASE_URL', 'UNLEASH_ADMIN_TOKEN', 'PATH']) {
      const res = await t.api(
        'POST',
        '/api/v1/models/steal/versions',
        {
          label: `v-${apiKeyRef.toLowerCase().replace(/_/g, '-')}`,
          upstreamBaseUrl: upstream.url,
          upstreamModel: 'm',
          apiKeyRef,
        },
        { token: operator },
      );
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'INVALID_REFERENCE', errors: [{ field: 'apiKeyRef' }] });
    }
    expect(upstream.seen.some((h) => JSON.stringify(h).includes(ADMIN_TOKEN))).toBe(false);
  });

  it('lets only admins declare credentials, and never shows a secret', async () => {
    const body = { name: 'golden-up', authScheme: 'x-api-key', allowedHosts: ['127.0.0.1'] };
    expect((await t.api('POST', '/api/v1/credentials', body, { token: operator })).status).toBe(403);
    const created = await t.api('POST', '/api/v1/credentials', body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'golden-up',
      authScheme: 'x-api-key',
      allowedHosts: ['127.0.0.1'],
      envName: 'AVIARY_UPSTREAM_KEY_GOLDEN_UP',
      availableToControlPlane: true,
    });
    const listed = await t.api('GET', '/api/v1/credentials', undefined, { token: operator });
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).not.toContain('sk-golden-upstream');
    expect((await t.api('POST', '/api/v1/credentials', body)).status).toBe(409);
    expect((await t.api('POST', '/api/v1/credentials', { ...body, name: 'GOLDEN_UP' })).body).toMatchObject({
      code: 'CONFLICT',
      field: 'name',
    });
  });

  it('refuses a second name that reads the same env var, even when both are declared at once', async () => {
    const declare = (name: string, host: string) =>
      t.api<{ code?: string; field?: string; detail?: string }>('POST', '/api/v1/credentials', {
        name,
        allowedHosts: [host],
      });
    const answers = await Promise.all([
      declare('team-x', 'a.example.com'),
      declare('TEAM_X', 'b.example.com'),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    const refused = answers.find((a) => a.status === 409)!;
    expect(refused.body).toMatchObject({ code: 'CONFLICT', field: 'name' });
    expect(refused.body.detail).toContain('AVIARY_UPSTREAM_KEY_TEAM_X');
    expect((await declare('Team-X', 'c.example.com')).status).toBe(409);
  });

  it.each([
    [
      'a host the credential is not for',
      { upstreamBaseUrl: 'http://attacker.test:8000/v1' },
      'upstreamBaseUrl',
    ],
    ['credentials in the URL', { upstreamBaseUrl: 'http://user:pass@127.0.0.1:8000/v1' }, 'upstreamBaseUrl'],
    [
      'a query string',
      { upstreamBaseUrl: 'http://127.0.0.1:8000/v1?x=https://elsewhere' },
      'upstreamBaseUrl',
    ],
    ['a fragment', { upstreamBaseUrl: 'http://127.0.0.1:8000/v1#frag' }, 'upstreamBaseUrl'],
    ['an undeclared credential', { apiKeyRef: 'never-declared' }, 'apiKeyRef'],
  ])('refuses a version with %s (400 naming the field)', async (_what, override, field) => {
    await model('checked');
    const res = await t.api(
      'POST',
      '/api/v1/models/checked/versions',
      { label: 'v1', upstreamBaseUrl: upstream.url, upstreamModel: 'm', apiKeyRef: 'golden-up', ...override },
      { token: operator },
    );
    expect(res.status).toBe(400);
    expect((res.body as { errors: { field: string }[] }).errors.map((e) => e.field)).toContain(field);
  });

  it('sends a declared credential under its scheme to its host, with the golden set', async () => {
    await model('golden');
    for (const label of ['v1', 'v2'])
      expect(
        (
          await t.api(
            'POST',
            '/api/v1/models/golden/versions',
            { label, upstreamBaseUrl: upstream.url, upstreamModel: 'm', apiKeyRef: 'golden-up' },
            { token: operator },
          )
        ).status,
      ).toBe(201);
    const rollout = await t.api<{ id: string }>(
      'POST',
      '/api/v1/rollouts',
      {
        model: 'golden',
        candidateVersion: 'v2',
        plan: fastPlan(3600),
        goldenSet: '{"id":"a","messages":[{"role":"user","content":"hi"}],"mustContain":["ok"]}',
      },
      { token: operator },
    );
    expect(rollout.status).toBe(201);
    const before = upstream.seen.length;
    expect(
      (await t.api('POST', `/api/v1/rollouts/${rollout.body.id}/start`, {}, { token: operator })).status,
    ).toBe(200);
    await waitFor('the golden set to call both versions', () => upstream.seen.length >= before + 2, 15_000);
    for (const headers of upstream.seen.slice(before)) {
      expect(headers['x-api-key']).toBe('sk-golden-upstream');
      expect(headers['authorization']).toBeUndefined();
    }
  });

  it('keeps a referenced credential and deletes an unused one', async () => {
    expect((await t.api('DELETE', '/api/v1/credentials/golden-up')).status).toBe(409);
    await t.api('POST', '/api/v1/credentials', { name: 'unused', allowedHosts: ['example.test'] });
    expect((await t.api('DELETE', '/api/v1/credentials/unused', undefined, { token: operator })).status).toBe(
      403,
    );
    expect((await t.api('DELETE', '/api/v1/credentials/unused')).status).toBe(200);
    expect((await t.api('GET', '/api/v1/credentials/unused')).status).toBe(404);
  });
});

describe('AVIARY_UPSTREAM_HOSTS', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane({ AVIARY_UPSTREAM_HOSTS: 'vllm.internal:8000, *.openai.azure.com' });
    await t.api('POST', '/api/v1/models', { name: 'allow' });
  });
  afterAll(async () => t?.close());

  it.each([
    ['http://vllm.internal:8000/v1', 201],
    ['https://east.openai.azure.com/openai', 201],
    ['http://127.0.0.1:8000/v1', 400],
  ])('%s -> %i', async (upstreamBaseUrl, status) => {
    const res = await t.api('POST', '/api/v1/models/allow/versions', {
      label: `v${Math.random().toString(36).slice(2, 8)}`,
      upstreamBaseUrl,
      upstreamModel: 'm',
    });
    expect(res.status).toBe(status);
    if (status === 400) expect(res.body).toMatchObject({ errors: [{ field: 'upstreamBaseUrl' }] });
  });
});

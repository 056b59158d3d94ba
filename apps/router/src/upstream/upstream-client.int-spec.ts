import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpstreamSecrets } from '@aviary/config';
import { BEHAVIOURS, startDemoLlm } from '@aviary/demo-llm';
import type { UpstreamTarget } from '@aviary/domain';
import { CredentialBindings } from './credential-bindings';
import { UPSTREAM_NOT_ALLOWED, UpstreamClient, UpstreamError } from './upstream-client';

describe(UpstreamClient.name, () => {
  it('does not let a call that hangs hold a shutdown: close() cuts it after the grace period', async () => {
    const upstream = await startDemoLlm({ name: 'hangs', behaviour: BEHAVIOURS.hangs });
    const client = new UpstreamClient();
    try {
      const target = {
        versionId: 'v',
        label: 'v',
        baseUrl: upstream.url,
        upstreamModel: 'm',
        timeoutMs: 60_000,
        apiKeyRef: null,
      } as unknown as UpstreamTarget;
      const call = client.call(
        target,
        '/chat/completions',
        JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
        { timeoutMs: 60_000 },
      );
      const outcome = call.then(
        () => 'answered',
        (err: unknown) => (err instanceof UpstreamError ? err.errorClass : 'other'),
      );
      await new Promise((r) => setTimeout(r, 200)); // the request is in flight
      const started = Date.now();
      await client.close(300);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(await outcome).toBe('connect');
    } finally {
      await upstream.close();
    }
  });
});

describe('UpstreamClient credentials', () => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  // The control plane's credential feed: `vllm` is bound to 127.0.0.1 only.
  let bindings: Array<{ name: string; authScheme: string; allowedHosts: string[] }> = [];
  const feed = createServer((_req, res) =>
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ version: 1, credentials: bindings })),
  );
  let url = '';
  let feedUrl = '';
  const dir = mkdtempSync(join(tmpdir(), 'aviary-bindings-'));
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => feed.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    feedUrl = `http://127.0.0.1:${(feed.address() as AddressInfo).port}/api/router/credentials`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await new Promise<void>((r) => feed.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const secrets = new UpstreamSecrets({
    env: { AVIARY_UPSTREAM_KEY_VLLM: 'sk-vllm', AVIARY_ADMIN_TOKEN: 'admin-token-must-not-leak' },
    dir: null,
  });
  let backups = 0;
  async function callWith(
    target: Partial<UpstreamTarget>,
    feedAt: string = feedUrl,
  ): Promise<{ headers: IncomingHttpHeaders | null; error: UpstreamError | null }> {
    const credentials = new CredentialBindings({
      url: feedAt,
      refreshMs: 60_000,
      backupFile: join(dir, `bindings-${backups++}.json`),
      secrets,
    });
    await credentials.start(2_000);
    const client = new UpstreamClient({ credentials });
    const before = seen.length;
    try {
      const full = {
        versionId: 'v',
        label: 'v',
        baseUrl: url,
        upstreamModel: 'm',
        timeoutMs: 5_000,
        apiKeyRef: null,
        ...target,
      };
      const res = await client.call(full, '/chat/completions', '{}', { timeoutMs: 5_000, model: 'chat' });
      await res.body();
      return { headers: seen[seen.length - 1]!, error: null };
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      expect(seen.length).toBe(before); // nothing reached the upstream
      return { headers: null, error: err };
    } finally {
      credentials.close();
      await client.close();
    }
  }

  it.each([
    ['bearer', 'authorization', 'Bearer sk-vllm'],
    ['api-key', 'api-key', 'sk-vllm'],
    ['x-api-key', 'x-api-key', 'sk-vllm'],
  ] as const)(
    'sends a declared credential under its bound %s scheme to its host',
    async (scheme, header, value) => {
      bindings = [{ name: 'VLLM', authScheme: scheme, allowedHosts: ['127.0.0.1'] }];
      // The flag payload's own scheme does not matter: the binding's does.
      const { headers } = await callWith({ apiKeyRef: 'VLLM', authScheme: 'bearer' });
      expect(headers?.[header]).toBe(value);
    },
  );

  it('sends nothing for a reference that is an ordinary env var of the process', async () => {
    bindings = [];
    const { headers } = await callWith({ apiKeyRef: 'AVIARY_ADMIN_TOKEN' });
    expect(headers?.['authorization']).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain('admin-token-must-not-leak');
  });

  it.each([
    [
      'a credential to a host outside its binding',
      [{ name: 'VLLM', authScheme: 'bearer', allowedHosts: ['api.openai.com'] }],
      'may only be sent to api.openai.com, not to 127.0.0.1',
    ],
    ['a credential the control plane does not declare', [], 'is not declared in the control plane'],
  ])('refuses to send %s, and nothing reaches the upstream', async (_case, bound, message) => {
    bindings = bound;
    const { error } = await callWith({ apiKeyRef: 'VLLM' });
    expect(error?.causeCode).toBe(UPSTREAM_NOT_ALLOWED);
    expect(error?.message).toContain(message);
    expect(error?.message).not.toContain('sk-vllm');
  });

  it('fails closed when no bindings are known (the control plane never answered)', async () => {
    const { error } = await callWith({ apiKeyRef: 'VLLM' }, 'http://127.0.0.1:9/api/router/credentials');
    expect(error?.causeCode).toBe(UPSTREAM_NOT_ALLOWED);
    expect(error?.message).toContain('no credential bindings from the control plane yet');
  });
});

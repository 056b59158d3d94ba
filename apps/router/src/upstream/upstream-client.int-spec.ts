import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpstreamSecrets } from '@aviary/config';
import { BEHAVIOURS, startDemoLlm } from '@aviary/demo-llm';
import type { UpstreamTarget } from '@aviary/domain';
import { UpstreamClient, UpstreamError } from './upstream-client';

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
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const secrets = new UpstreamSecrets({
    env: { AVIARY_UPSTREAM_KEY_VLLM: 'sk-vllm', AVIARY_ADMIN_TOKEN: 'admin-token-must-not-leak' },
    dir: null,
  });
  async function headersSentFor(target: Partial<UpstreamTarget>): Promise<IncomingHttpHeaders> {
    const client = new UpstreamClient({ secrets });
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
      const res = await client.call(full, '/chat/completions', '{}', { timeoutMs: 5_000 });
      await res.body();
      return seen[seen.length - 1]!;
    } finally {
      await client.close();
    }
  }

  it.each([
    ['bearer', 'authorization', 'Bearer sk-vllm'],
    ['api-key', 'api-key', 'sk-vllm'],
    ['x-api-key', 'x-api-key', 'sk-vllm'],
  ] as const)('sends a declared credential under its %s scheme', async (authScheme, header, value) => {
    const headers = await headersSentFor({ apiKeyRef: 'VLLM', authScheme });
    expect(headers[header]).toBe(value);
  });

  it('sends nothing for a reference that is an ordinary env var of the process', async () => {
    const headers = await headersSentFor({ apiKeyRef: 'AVIARY_ADMIN_TOKEN' });
    expect(headers['authorization']).toBeUndefined();
    expect(JSON.stringify(headers)).not.toContain('admin-token-must-not-leak');
  });
});

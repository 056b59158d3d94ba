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

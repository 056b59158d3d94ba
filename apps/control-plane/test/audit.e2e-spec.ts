import { startTestControlPlane, type TestControlPlane } from './harness';

// The audit log records who changed what outside rollouts (rollouts have their decision log):
// models, versions, API tokens, router keys, upstream credentials, notification destinations.

interface AuditItem {
  action: string;
  target: string;
  actor: string;
  details: Record<string, unknown>;
}

describe('audit log', () => {
  let t: TestControlPlane;
  beforeAll(async () => {
    t = await startTestControlPlane();
  });
  afterAll(async () => {
    await t?.close();
  });

  const audit = async () => (await t.api<{ items: AuditItem[] }>('GET', '/api/v1/audit')).body.items;

  it('records who registered models and versions, created and revoked tokens, keys and credentials', async () => {
    const operator = await t.api<{ id: string; token: string }>('POST', '/api/v1/tokens', {
      name: 'ops-alice',
      role: 'operator',
    });
    expect(operator.status).toBe(201);
    const asAlice = { token: operator.body.token };
    expect(
      (
        await t.api('POST', '/api/v1/credentials', {
          name: 'vllm-key',
          allowedHosts: ['127.0.0.1:9'],
        })
      ).status,
    ).toBe(201);
    expect((await t.api('POST', '/api/v1/models', { name: 'audited-chat' })).status).toBe(201);
    const version = await t.api(
      'POST',
      '/api/v1/models/audited-chat/versions',
      {
        label: 'v1',
        upstreamBaseUrl: 'http://127.0.0.1:9/v1',
        upstreamModel: 'base-8b',
        apiKeyRef: 'vllm-key',
      },
      asAlice,
    );
    expect(version.status).toBe(201);
    const key = await t.api<{ id: string; key: string }>('POST', '/api/v1/router-keys', {
      name: 'team-search',
      models: ['audited-chat'],
    });
    expect(key.status).toBe(201);
    expect((await t.api('DELETE', `/api/v1/router-keys/${key.body.id}`)).status).toBe(200);
    expect((await t.api('DELETE', `/api/v1/tokens/${operator.body.id}`)).status).toBe(200);

    const items = await audit();
    // Newest first.
    expect(items.map((e) => [e.action, e.target, e.actor])).toEqual([
      ['token.revoked', 'ops-alice', 'bootstrap-admin'],
      ['router_key.revoked', 'team-search', 'bootstrap-admin'],
      ['router_key.created', 'team-search', 'bootstrap-admin'],
      ['version.created', 'audited-chat/v1', 'ops-alice'],
      ['model.created', 'audited-chat', 'bootstrap-admin'],
      ['credential.created', 'vllm-key', 'bootstrap-admin'],
      ['token.created', 'ops-alice', 'bootstrap-admin'],
    ]);
    const byAction = new Map(items.map((e) => [e.action, e.details]));
    expect(byAction.get('version.created')).toMatchObject({
      upstreamBaseUrl: 'http://127.0.0.1:9/v1',
      upstreamModel: 'base-8b',
      apiKeyRef: 'vllm-key',
      becameStable: true,
    });
    expect(byAction.get('token.created')).toMatchObject({ role: 'operator' });
    expect(byAction.get('router_key.created')).toMatchObject({ models: ['audited-chat'] });
    // Secrets never reach the audit log: neither the token nor the router key value.
    const text = JSON.stringify(items);
    expect(text).not.toContain(operator.body.token);
    expect(text).not.toContain(key.body.key);
  });

  it('records a deleted credential, and nothing for a request that was refused', async () => {
    expect(
      (await t.api('POST', '/api/v1/credentials', { name: 'spare-key', allowedHosts: ['10.0.0.1:8000'] }))
        .status,
    ).toBe(201);
    const before = (await audit()).length;
    expect((await t.api('POST', '/api/v1/models', { name: 'audited-chat' })).status).toBe(409);
    expect((await t.api('DELETE', '/api/v1/credentials/vllm-key')).status).toBe(409);
    expect((await audit()).length).toBe(before);
    expect((await t.api('DELETE', '/api/v1/credentials/spare-key')).status).toBe(200);
    expect((await audit())[0]).toMatchObject({
      action: 'credential.deleted',
      target: 'spare-key',
      actor: 'bootstrap-admin',
    });
  });
});

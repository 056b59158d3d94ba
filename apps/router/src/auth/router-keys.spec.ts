import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashKey, RouterKeys } from './router-keys';

const feed = (...names: string[]) =>
  JSON.stringify({
    version: 1,
    keys: names.map((n) => ({
      id: `id-${n}`,
      name: n,
      hash: hashKey(`avr_${n}`),
      models: n === 'scoped' ? ['support-chat'] : null,
      requestsPerMinute: null,
      tokensPerDay: null,
    })),
  });

describe(RouterKeys.name, () => {
  let server: Server;
  let body = feed('alice');
  let up = true;
  let requests: Array<{ auth?: string; inm?: string }> = [];
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'aviary-keys-'));
  const made: RouterKeys[] = [];
  const keys = (extra: Partial<ConstructorParameters<typeof RouterKeys>[0]> = {}) => {
    const k = new RouterKeys({
      url,
      token: 'viewer-token',
      refreshMs: 20,
      backupFile: join(dir, 'keys.json'),
      ...extra,
    });
    made.push(k);
    return k;
  };
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond()).toBe(true);
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push({ auth: req.headers.authorization, inm: req.headers['if-none-match'] });
      if (!up) return res.destroy();
      const etag = `"${body.length}-${body.slice(-20)}"`;
      if (req.headers['if-none-match'] === etag) return res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/json', etag }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/router/keys`;
  });
  afterEach(() => {
    for (const k of made.splice(0)) k.close();
    body = feed('alice');
    up = true;
    requests = [];
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetches the keys with its token, then polls with the ETag and takes changes', async () => {
    const k = keys();
    await k.start(2000);
    expect(k.lookup('avr_alice')).toMatchObject({ id: 'id-alice', models: null });
    expect(k.lookup('avr_bob')).toBeNull();
    expect(requests[0]?.auth).toBe('Bearer viewer-token');
    await until(() => requests.some((r) => r.inm !== undefined));
    body = feed('bob', 'scoped'); // alice revoked, bob and a scoped key created
    await until(() => k.lookup('avr_bob') !== null);
    expect(k.lookup('avr_alice')).toBeNull();
    expect([...(k.lookup('avr_scoped')?.models ?? [])]).toEqual(['support-chat']);
  });

  it('keeps the last list while the control plane is down, and after a restart from its backup', async () => {
    const first = keys();
    await first.start(2000);
    await until(() => first.status().ready);
    await first.backedUp(); // the backup is written beside the poll
    up = false;
    await until(() => !first.status().sourceReachable);
    expect(first.lookup('avr_alice')).not.toBeNull();
    const restarted = keys();
    await restarted.start(200);
    expect(restarted.status()).toMatchObject({ ready: true, sourceReachable: false });
    expect(restarted.lookup('avr_alice')).not.toBeNull();
  });

  it('has no keys (not ready) when it never reached the control plane and has no backup', async () => {
    up = false;
    const k = keys({ backupFile: join(dir, 'none', 'keys.json') });
    await k.start(200);
    expect(k.status()).toMatchObject({ ready: false, keys: 0 });
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startTcpProxy, type TcpProxy, waitFor } from '@aviary/testing';
import { loadRouterConfig } from '../src/config/router.config';
import { startRouter, type RunningRouter } from '../src/router';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(60_000);

const ask = (content: string) => [{ role: 'user' as const, content }];
const quiet = () => {};

describe('router when the flag source is down', () => {
  let s: Stack;
  let proxy: TcpProxy;
  let backupDir: string;
  const routers: RunningRouter[] = [];

  beforeAll(async () => {
    s = await startStack();
    proxy = await startTcpProxy(Number(new URL(s.cp.url).port));
    backupDir = mkdtempSync(join(tmpdir(), 'aviary-flags-down-'));
  });
  afterAll(async () => {
    for (const r of routers) await r.close();
    await proxy?.close();
    await s?.close();
    rmSync(backupDir, { recursive: true, force: true });
  });

  const token = async () =>
    (
      await s.cp.api<{ token: string }>('POST', '/api/v1/tokens', {
        name: `r-${Math.random().toString(36).slice(2)}`,
        role: 'viewer',
      })
    ).body.token;
  const routerVia = async (flagsUrl: string, env: Record<string, string> = {}) => {
    const r = await startRouter(
      loadRouterConfig({
        AVIARY_ROUTER_PORT: '0',
        AVIARY_FLAGS_URL: flagsUrl,
        AVIARY_FLAGS_TOKEN: await token(),
        AVIARY_FLAGS_REFRESH_MS: '100',
        AVIARY_FLAGS_BACKUP_DIR: backupDir,
        // Router keys come from the control plane itself, reachable while the flag source is not.
        AVIARY_CONTROL_PLANE_URL: s.cp.url,
        AVIARY_KEYS_REFRESH_MS: '100',
        AVIARY_LOG_LEVEL: 'error',
        AVIARY_ACCESS_LOG: 'off',
        ...env,
      }),
      { log: quiet, readyTimeoutMs: 3000 },
    );
    routers.push(r);
    return r;
  };
  const versionVia = async (r: RunningRouter, user: string) => {
    const client = new OpenAI({ baseURL: `${r.url}/v1`, apiKey: s.key, maxRetries: 0 });
    const { response } = await client.chat.completions
      .create({ model: s.model, messages: ask('hi'), user })
      .withResponse();
    return response.headers.get('x-aviary-model-version');
  };

  it('keeps serving the last split it had, also after a restart, and says so in readiness', async () => {
    await s.rollout([step.weight(50), step.weight(100)]);
    const first = await routerVia(`${proxy.url}/api`);
    await waitFor('the split', () => first.flags.resolve(s.model, 'probe')?.candidateWeight === 50, 10_000);
    const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const before = await Promise.all(users.map((u) => versionVia(first, u)));
    expect(before).toContain('v2');

    await proxy.cut();
    await waitFor(
      'the router to notice',
      async () =>
        ((await (await fetch(`${first.url}/readyz`)).json()) as { checks: { flags: { status: string } } })
          .checks.flags.status === 'unreachable',
      10_000,
    );
    expect(await Promise.all(users.map((u) => versionVia(first, u)))).toEqual(before);
    const ready = await fetch(`${first.url}/readyz`);
    expect(ready.status).toBe(200); // it can serve: degraded, not unavailable
    expect(await ready.json()).toMatchObject({ status: 'degraded' });
    const up = await (await fetch(`${first.url}/metrics`)).text();
    expect(up).toContain('aviary_router_flag_source_up 0');

    // A new router with the source still down starts from the backup the first one kept.
    const restarted = await routerVia(`${proxy.url}/api`);
    expect(await Promise.all(users.map((u) => versionVia(restarted, u)))).toEqual(before);
    await proxy.restore();
  }, 60_000);

  it('answers 503 for a model it has never had routing for, or serves a bootstrap file', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'aviary-flags-empty-'));
    try {
      const blind = await routerVia('http://127.0.0.1:9/api', { AVIARY_FLAGS_BACKUP_DIR: empty });
      const res = await fetch(`${blind.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...s.auth },
        body: JSON.stringify({ model: s.model, messages: ask('hi') }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('2');
      expect(await res.json()).toMatchObject({ error: { code: 'routing_unavailable' } });
      expect((await fetch(`${blind.url}/readyz`)).status).toBe(503);

      const features = await (
        await fetch(`${s.cp.url}/api/client/features`, { headers: { authorization: await token() } })
      ).text();
      const file = join(empty, 'bootstrap.json');
      writeFileSync(file, features);
      const bootstrapped = await routerVia('http://127.0.0.1:9/api', {
        AVIARY_FLAGS_BACKUP_DIR: mkdtempSync(join(tmpdir(), 'aviary-flags-b-')),
        AVIARY_FLAGS_BOOTSTRAP_FILE: file,
      });
      expect(['v1', 'v2']).toContain(await versionVia(bootstrapped, 'someone'));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('rollback propagation', () => {
  let s: Stack;
  beforeAll(async () => {
    // The default refresh interval, as shipped.
    s = await startStack({ AVIARY_FLAGS_REFRESH_MS: '500' });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('reaches the router within about a second of the rollback call returning', async () => {
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await s.rollout([step.weight(100)]);
      const r = await s.cp.api('POST', `/api/v1/rollouts/${id}/rollback`, { reason: `propagation ${i}` });
      expect(r.status).toBe(200);
      const t0 = performance.now();
      await waitFor(
        'baseline only',
        () => s.router.flags.resolve(s.model, 'anyone')?.role === 'baseline',
        5000,
        5,
      );
      samples.push(performance.now() - t0);
    }
    samples.sort((a, b) => a - b);
    process.stdout.write(
      `rollback → router (built-in flags, 500 ms refresh): ${samples.map((x) => x.toFixed(0)).join(', ')} ms\n`,
    );
    expect(samples.at(-1)).toBeLessThan(1500);
  }, 90_000);
});

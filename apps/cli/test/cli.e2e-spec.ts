import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  fastPlan,
  seedModel,
  startTestControlPlane,
  type TestControlPlane,
} from '../../control-plane/test/harness';
import { aviary } from './run-aviary';

const root = join(__dirname, '..', '..', '..');

describe('the aviary CLI', () => {
  let t: TestControlPlane;
  let env: Record<string, string>;
  let model: string;
  let rolloutId: string;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'apps', 'cli', 'src', 'main.js')))
      throw new Error('dist is missing: run `npm run build` (npm test does)');
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    env = { AVIARY_URL: t.url, AVIARY_TOKEN: ADMIN_TOKEN };
    model = (await seedModel(t)).name;
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    rolloutId = r.body.id;
    await t.api('POST', `/api/v1/rollouts/${rolloutId}/start`);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('shows models and active rollouts, as text and as JSON', async () => {
    const text = await aviary(['status'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(model);
    expect(text.stdout).toMatch(/Progressing\s+1\/6 shadow/);
    const json = await aviary(['status', '--json'], env);
    const parsed = JSON.parse(json.stdout) as { activeRollouts: { id: string }[] };
    expect(parsed.activeRollouts.map((r) => r.id)).toContain(rolloutId);
    const one = await aviary(['status', model], env);
    expect(one.stdout).toContain(`rollout   ${rolloutId}`);
    expect(one.stdout).toMatch(/analysis {2}/);
  });

  it('drives a rollout: promote, pause, resume, and reads the decision log', async () => {
    expect((await aviary(['promote', rolloutId, '--reason', 'shadow looks fine'], env)).stdout).toMatch(
      /promoted[\s\S]*step {6}2 of 6: 5%, for/,
    );
    expect((await aviary(['pause', rolloutId], env)).stdout).toMatch(/phase {5}Paused/);
    expect((await aviary(['resume', rolloutId], env)).stdout).toMatch(/phase {5}Progressing/);
    const events = await aviary(['events', rolloutId], env);
    expect(events.code).toBe(0);
    // AVIARY_ANALYSIS=manual: the rollout's steps wait for an operator, so a promote is an approval.
    expect(events.stdout).toMatch(/Approved .*"shadow looks fine"/);
    expect(events.stdout.split('\n').map((l) => l.split(/\s+/)[1])).toEqual([
      'Created',
      'Started',
      'Approved',
      'Paused',
      'Resumed',
    ]);
  });

  it('will not roll back without a confirmation it cannot ask for, and rolls back with --yes', async () => {
    const unconfirmed = await aviary(['rollback', model, '--reason', 'refusals up'], env);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('pass --yes');
    const noReason = await aviary(['rollback', model, '--yes'], env);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('--reason');

    const done = await aviary(['rollback', model, '--reason', 'refusals up', '--yes'], env);
    expect(done.code).toBe(0);
    expect(done.stdout).toContain(`rolled back: ${model} serves v1 to everyone`);
    expect((await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${rolloutId}`)).body.phase).toBe(
      'RolledBack',
    );
  });

  it.each([
    [
      'a conflict (promoting a rolled-back rollout)',
      () => ['promote', rolloutId],
      5,
      /cannot promote a rollout that is RolledBack/,
    ],
    ['an unknown rollout', () => ['events', '00000000-0000-4000-8000-000000000000'], 4, /does not exist/],
    ['a malformed rollout id', () => ['pause', 'latest'], 2, /not a rollout id/],
    ['an unknown command', () => ['deploy'], 2, /unknown command "deploy"/],
  ])('exits with a code a script can rely on for %s', async (_name, args, code, message) => {
    const r = await aviary(args(), env);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it('tells a bad token from a missing one and from a server that is not there', async () => {
    const missing = await aviary(['status'], { AVIARY_URL: t.url });
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain('AVIARY_TOKEN is not set');
    const wrong = await aviary(['status'], { AVIARY_URL: t.url, AVIARY_TOKEN: 'not-a-token' });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('check AVIARY_TOKEN');
    const away = await aviary(['status'], { AVIARY_URL: 'http://127.0.0.1:9', AVIARY_TOKEN: ADMIN_TOKEN });
    expect(away.code).toBe(6);
    expect(away.stderr).toContain('cannot reach Aviary at http://127.0.0.1:9');
  });

  it('exits 6 (unreachable) when the server stalls in the middle of its answer', async () => {
    const stalling = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"items": [');
    });
    await new Promise<void>((r) => stalling.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
      const started = Date.now();
      const r = await aviary(['status'], {
        AVIARY_URL: url,
        AVIARY_TOKEN: ADMIN_TOKEN,
        AVIARY_TIMEOUT_MS: '1500',
      });
      expect(r.code).toBe(6);
      expect(r.stderr).toContain('stopped answering mid-response');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      stalling.closeAllConnections();
      await new Promise<void>((r) => stalling.close(() => r()));
    }
  });

  it('reverts a completed rollout with one command: the replaced version is stable again', async () => {
    const m = (await seedModel(t)).name;
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    await t.api('POST', `/api/v1/rollouts/${r.id}/promote`, { full: true });
    expect((await aviary(['revert', m, '--reason', 'worse on day two'], env)).code).toBe(2);
    const run = await aviary(['revert', m, '--reason', 'worse on day two', '--yes'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`reverted: ${m} serves v1 again`));
    const again = await aviary(['revert', m, '--reason', 'again', '--yes'], env);
    expect(again.code).toBe(5);
  });
});

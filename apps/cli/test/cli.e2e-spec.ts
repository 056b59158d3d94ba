import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  fastPlan,
  seedModel,
  startTestControlPlane,
  type TestControlPlane,
} from '../../control-plane/test/harness';

const root = join(__dirname, '..', '..', '..');
const bin = join(root, 'bin', 'aviary.mjs');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `aviary` bin as a process, without a terminal (stdin is not a TTY). */
function aviary(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { PATH: process.env['PATH'], ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

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
    expect(events.stdout).toMatch(/Promoted .*"shadow looks fine"/);
    expect(events.stdout.split('\n').map((l) => l.split(/\s+/)[1])).toEqual([
      'Created',
      'Started',
      'Promoted',
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

  it('creates, lists and revokes router API keys', async () => {
    const created = await aviary(
      ['keys', 'create', 'cli-app', '--models', model, '--rpm', '60', '--tokens-per-day', '5000'],
      env,
    );
    expect(created.code).toBe(0);
    const key = /^(avr_\S+)$/m.exec(created.stdout)?.[1];
    expect(key).toBeDefined();
    const list = await aviary(['keys', 'list'], env);
    expect(list.stdout).toMatch(
      new RegExp(`cli-app\\s+\\S+\\s+avr_\\S+…\\s+${model}\\s+60\\s+5000\\s+active`),
    );
    expect(list.stdout).not.toContain(key);
    const revoked = await aviary(['keys', 'revoke', 'cli-app'], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked router key cli-app');
    expect((await aviary(['keys', 'list'], env)).stdout).toMatch(/cli-app.*revoked/);
    expect((await aviary(['keys', 'create', 'bad', '--rpm', 'lots'], env)).code).toBe(2);
    expect((await aviary(['keys', 'revoke', 'no-such-key'], env)).code).toBe(4);
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
});

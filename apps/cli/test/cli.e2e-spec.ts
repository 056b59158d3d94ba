import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@aviary/testing';
import {
  ADMIN_TOKEN,
  fastPlan,
  seedModel,
  startTestControlPlane,
  type TestControlPlane,
} from '@aviary/control-plane/testing';
import { aviary, run } from './run-aviary';

const root = join(__dirname, '..', '..', '..');
const bin = join(root, 'bin', 'aviary.mjs');

// Each test runs the CLI several times as a process; a busy machine makes that seconds.
jest.setTimeout(60_000);

const LOCAL_TIME = /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/;

describe('the aviary CLI', () => {
  let t: TestControlPlane;
  let env: Record<string, string>;
  let model: string;
  let rolloutId: string;
  let scratch: string;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'apps', 'cli', 'src', 'main.js')))
      throw new Error('dist is missing: run `npm run build` (npm test does)');
    scratch = mkdtempSync(join(tmpdir(), 'aviary-cli-'));
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    // An empty data dir: no embedded admin token to fall back on unless a test puts one there.
    env = { AVIARY_URL: t.url, AVIARY_TOKEN: ADMIN_TOKEN, AVIARY_DATA_DIR: scratch };
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
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('shows models and active rollouts, as text and as JSON', async () => {
    const text = await aviary(['status'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(model);
    expect(text.stdout).toMatch(
      new RegExp(`${rolloutId.slice(0, 8)}\\s+${model}.*Progressing\\s+1/6 shadow`),
    );
    const json = await aviary(['status', '--json'], env);
    const parsed = JSON.parse(json.stdout) as { activeRollouts: { id: string }[] };
    expect(parsed.activeRollouts.map((r) => r.id)).toContain(rolloutId);
    const one = await aviary(['status', model], env);
    expect(one.stdout).toContain(`Rollout:    ${rolloutId}`);
    expect(one.stdout).toMatch(/^Analysis: {3}/m);
  });

  it('shows a rollout on many short lines: steps, split, next step, one line per guardrail', async () => {
    const r = await aviary(['get', 'rollout', model], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(200);
    expect(r.stdout).toContain(`Model:      ${model}: v2-int8 against v1`);
    expect(r.stdout).toContain('Split:      shadow 50%');
    expect(r.stdout).toMatch(/^ {2}► {2}1 {2}shadow \(50% sampled\), at least 60m$/m);
    expect(r.stdout).toMatch(/^ {4} 2 {2}5%, at least 60m$/m);
    expect(r.stdout).toMatch(
      new RegExp(`^Next step: {2}${LOCAL_TIME.source}Z? \\(in \\d+m\\) at the earliest`, 'm'),
    );
    const guardrails = lines.filter((l) => /^ {2}(Inconclusive|Successful|Failed|NoData) +\S/.test(l));
    expect(guardrails.length).toBeGreaterThanOrEqual(4);
    expect(r.stdout).toMatch(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}Started +Started by bootstrap-admin/m);
    // Times are local: another TZ moves them.
    const tokyo = await aviary(['get', 'rollout', model], { ...env, TZ: 'Asia/Tokyo' });
    expect(tokyo.stdout).not.toEqual(r.stdout);
  });

  it('takes a model name or the first characters of a rollout id wherever it takes a rollout', async () => {
    const prefix = rolloutId.slice(0, 6);
    expect((await aviary(['promote', prefix, '--reason', 'shadow looks fine'], env)).stdout).toMatch(
      /promoted[\s\S]*Step: {7}2 of 6: 5%, since/,
    );
    expect((await aviary(['pause', model], env)).stdout).toMatch(/^Phase: {6}Paused/m);
    expect((await aviary(['resume', rolloutId.slice(0, 4).toUpperCase()], env)).stdout).toMatch(
      /^Phase: {6}Progressing/m,
    );
    const events = await aviary(['events', model], env);
    expect(events.code).toBe(0);
    // AVIARY_ANALYSIS=manual: the rollout's steps wait for an operator, so a promote is an approval.
    expect(events.stdout).toMatch(/Approved .*shadow looks fine/);
    expect(
      events.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/)[2]),
    ).toEqual(['Created', 'Started', 'Approved', 'Paused', 'Resumed']);
    expect(
      events.stdout
        .trimEnd()
        .split('\n')
        .filter((l) => !LOCAL_TIME.test(l)),
    ).toEqual([]);
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

  it('creates a rollout from a YAML plan, starts, aborts and retries it, and lists the history', async () => {
    const seeded = await seedModel(t);
    const plan = join(scratch, 'plan.yaml');
    writeFileSync(
      plan,
      [
        `model: ${seeded.name}`,
        'candidateVersion: v2-int8',
        'reason: halves GPU cost',
        'plan:',
        '  steps:',
        '    - { type: shadow, sampleRate: 0.25, minDurationSeconds: 600 }',
        '    - { type: setWeight, weight: 100, minDurationSeconds: 600 }',
        '',
      ].join('\n'),
    );
    const created = await aviary(['create', '-f', plan], env);
    expect([created.code, created.stderr]).toEqual([0, '']);
    const short = /created rollout ([0-9a-f]{8})/.exec(created.stdout)?.[1];
    expect(short).toBeDefined();
    expect(created.stdout).toContain(`start it: aviary start ${short}`);
    expect(created.stdout).toMatch(/^Phase: {6}Pending/m);

    expect((await aviary(['start', seeded.name], env)).stdout).toMatch(/^Split: {6}shadow 25%/m);
    const aborted = await aviary(['abort', short!, '--reason', 'wrong build', '--yes'], env);
    expect(aborted.code).toBe(0);
    expect(aborted.stdout).toMatch(/^Phase: {6}RolledBack — wrong build/m);
    expect(aborted.stdout).toMatch(/^ {2}✖ {2}1 {2}shadow/m);
    expect((await aviary(['retry', seeded.name], env)).stderr).toContain('retry needs --reason');
    const retried = await aviary(['retry', seeded.name, '--reason', 'fixed the build'], env);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/^Phase: {6}Progressing/m);

    const history = await aviary(['history', seeded.name], env);
    expect(history.code).toBe(0);
    expect(history.stdout.split('\n')[0]).toMatch(/^ROLLOUT\s+CANDIDATE\s+BASELINE\s+PHASE/);
    expect(history.stdout).toMatch(new RegExp(`^${short}\\s+v2-int8\\s+v1\\s+Progressing\\s+1/2`, 'm'));
  });

  it('refuses a plan file it cannot read, parse, or the API rejects, saying where', async () => {
    const broken = join(scratch, 'broken.yaml');
    writeFileSync(broken, 'model: x\nplan: [1\ncandidateVersion: y\n');
    const yaml = await aviary(['create', '-f', broken], env);
    expect(yaml.code).toBe(2);
    expect(yaml.stderr).toMatch(/broken\.yaml:\d+:\d+: not valid YAML or JSON/);
    const bad = join(scratch, 'bad.json');
    writeFileSync(
      bad,
      JSON.stringify({
        model,
        candidateVersion: 'v2-int8',
        plan: { steps: [{ type: 'setWeight', weight: 500, minDurationSeconds: 1 }] },
      }),
    );
    const invalid = await aviary(['create', '-f', bad], env);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('plan.steps[0].weight');
    const missing = await aviary(['create', '-f', join(scratch, 'nope.yaml')], env);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('cannot read')]);
    expect((await aviary(['create'], env)).stderr).toContain('create needs a plan file');
  });

  it('asks before a promote completes the rollout, and completes it with --yes', async () => {
    const seeded = await seedModel(t);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: seeded.name,
      candidateVersion: 'v2-int8',
      plan: { steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 3600 }] },
    });
    await t.api('POST', `/api/v1/rollouts/${r.body.id}/start`);
    const asked = await aviary(['promote', seeded.name], env);
    expect([asked.code, asked.stderr]).toEqual([2, expect.any(String)]);
    expect(asked.stderr).toContain(
      `promoting now completes the rollout (v2-int8 becomes the stable version of ${seeded.name} for everyone)`,
    );
    expect((await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${r.body.id}`)).body.phase).toBe(
      'Progressing',
    );
    const done = await aviary(['promote', seeded.name, '--yes'], env);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(/^completed\nRollout:/);
    expect(done.stdout).toMatch(/^Phase: {6}Healthy/m);
  });

  it('watches a rollout until it completes: a block per change, exit 0', async () => {
    const seeded = await seedModel(t);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: seeded.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    const id = r.body.id;
    await t.api('POST', `/api/v1/rollouts/${id}/start`);
    const child = spawn(
      process.execPath,
      [bin, 'get', 'rollout', id.slice(0, 8), '--watch', '--interval', '0.3'],
      { env: { PATH: process.env['PATH'], TZ: 'UTC', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      await waitFor('the first view', () => out.includes('Phase:      Progressing'), 20_000);
      await t.api('POST', `/api/v1/rollouts/${id}/promote`);
      await waitFor('the second step', () => out.includes('Step:       2 of 6: 5%'), 20_000);
      await t.api('POST', `/api/v1/rollouts/${id}/promote`, { full: true, reason: 'ship it' });
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
    // A block per change (the analysis may change a poll before the step does: a block more).
    const states = out
      .trim()
      .split(/\n\n(?=Rollout:)/)
      .map((b) => `${/^Phase: {6}(\w+)/m.exec(b)?.[1]} ${/^Step: {7}(\d+) of/m.exec(b)?.[1]}`)
      .filter((s, i, all) => s !== all[i - 1]);
    expect(states).toEqual(['Progressing 1', 'Progressing 2', 'Healthy 6']);
  }, 60_000);

  it('watches a rollout that rolls back to exit 1', async () => {
    const seeded = await seedModel(t);
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: seeded.name,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    await t.api('POST', `/api/v1/rollouts/${r.body.id}/start`);
    const watching = aviary(['get', 'rollout', seeded.name, '-w', '--interval', '0.3', '--json'], env);
    await new Promise((res) => setTimeout(res, 1000));
    await t.api('POST', `/api/v1/rollouts/${r.body.id}/rollback`, { reason: 'latency' });
    const done = await watching;
    expect(done.code).toBe(1);
    const states = done.stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { rollout: { phase: string } }).rollout.phase);
    expect(states.at(-1)).toBe('RolledBack');
  }, 60_000);

  it.each([
    [
      'a conflict (promoting a rolled-back rollout)',
      () => ['promote', rolloutId],
      5,
      /cannot promote a rollout that is RolledBack/,
    ],
    ['an unknown rollout', () => ['events', '00000000-0000-4000-8000-000000000000'], 4, /does not exist/],
    ['an id prefix nobody has', () => ['pause', 'ffff0000'], 4, /no rollout id starts with "ffff0000"/],
    ['a name that is neither', () => ['pause', 'latest'], 4, /no model "latest" with rollouts/],
    ['an unknown command', () => ['deploy'], 2, /unknown command "deploy"/],
    ['an unknown resource', () => ['get', 'pods'], 2, /cannot get "pods"/],
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
      new RegExp(`cli-app\\s+\\S+\\s+avr_\\S+…\\s+${model}\\s+60\\s+5000\\s+0 \\(0%\\)\\s+active`),
    );
    expect(list.stdout).not.toContain(key);
    const revoked = await aviary(['keys', 'revoke', 'cli-app'], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked router key cli-app');
    expect((await aviary(['keys', 'list'], env)).stdout).toMatch(/cli-app.*revoked/);
    const oncall = await aviary(['keys', 'create', 'cli-oncall', '--may-force-version', '--json'], env);
    expect(oncall.code).toBe(0);
    expect(JSON.parse(oncall.stdout)).toMatchObject({ name: 'cli-oncall', mayForceVersion: true });
    expect((await aviary(['keys', 'create', 'bad', '--rpm', 'lots'], env)).code).toBe(2);
    expect((await aviary(['keys', 'revoke', 'no-such-key'], env)).code).toBe(4);
  });

  it('revokes a shared status-page link by its token name; the page then refuses it', async () => {
    const made = await t.api<{ token: string }>('POST', '/api/v1/tokens', {
      name: 'status-page-link',
      role: 'viewer',
    });
    const link = `${t.url}/status/api/overview`;
    const auth = { headers: { authorization: `Bearer ${made.body.token}` } };
    expect((await fetch(link, auth)).status).toBe(200);
    const list = await aviary(['tokens', 'list'], env);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/status-page-link\s+\S+\s+viewer\s+avy_\S+…\s+.+\s+active/);
    expect(list.stdout).not.toContain(made.body.token);
    const revoked = await aviary(['tokens', 'revoke', 'status-page-link'], env);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('revoked token status-page-link');
    expect((await fetch(link, auth)).status).toBe(401);
    // Only the live one counts: none is left now.
    expect((await aviary(['tokens', 'revoke', 'status-page-link'], env)).code).toBe(4);
    expect((await aviary(['tokens', 'revoke'], env)).code).toBe(2);
    expect((await aviary(['tokens', 'rotate'], env)).code).toBe(2);
  });

  it('tells a bad token from a missing one and from a server that is not there', async () => {
    const missing = await aviary(['status'], { AVIARY_URL: t.url, AVIARY_DATA_DIR: scratch });
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain('AVIARY_TOKEN is not set');
    const wrong = await aviary(['status'], { AVIARY_URL: t.url, AVIARY_TOKEN: 'not-a-token' });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain('check AVIARY_TOKEN');
    const away = await aviary(['status'], { AVIARY_URL: 'http://127.0.0.1:9', AVIARY_TOKEN: ADMIN_TOKEN });
    expect(away.code).toBe(6);
    expect(away.stderr).toContain('cannot reach Aviary at http://127.0.0.1:9');
  });

  it('finds the embedded setup by its port variable and admin-token file, and keeps that token local', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aviary-cli-data-'));
    try {
      writeFileSync(join(dataDir, 'admin-token'), `${ADMIN_TOKEN}\n`);
      const port = new URL(t.url).port;
      const found = await aviary(['status'], { AVIARY_CONTROL_PLANE_PORT: port, AVIARY_DATA_DIR: dataDir });
      expect(found.code).toBe(0);
      expect(found.stdout).toContain(model);
      // A remote Aviary never gets the local admin token: no request is even made.
      const remote = await aviary(['status'], {
        AVIARY_URL: 'http://aviary.example.invalid',
        AVIARY_DATA_DIR: dataDir,
      });
      expect(remote.code).toBe(2);
      expect(remote.stderr).toContain('AVIARY_TOKEN is not set');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('prints its version, and valid JSON through `npm run -s aviary`', async () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string })
      .version;
    expect((await aviary(['--version'])).stdout.trim()).toBe(`aviary ${version}`);
    const viaNpm = await run('npm', ['run', '-s', 'aviary', '--', 'status', '--json'], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    expect([viaNpm.code, viaNpm.stderr]).toEqual([0, '']);
    expect((JSON.parse(viaNpm.stdout) as { models: { name: string }[] }).models.map((m) => m.name)).toContain(
      model,
    );
  }, 90_000);

  it('completes commands and model names in bash', async () => {
    const script = await aviary(['completion', 'bash']);
    expect(script.code).toBe(0);
    const file = join(scratch, 'aviary.bash');
    writeFileSync(file, script.stdout);
    // `aviary` on PATH is the bin under test, as after `npm link`.
    const shim = join(scratch, 'bin');
    mkdirSync(shim, { recursive: true });
    writeFileSync(join(shim, 'aviary'), `#!/bin/sh\nexec "${process.execPath}" "${bin}" "$@"\n`, {
      mode: 0o755,
    });
    const complete = async (words: string[]) =>
      (
        await run(
          'bash',
          [
            '-c',
            `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _aviary; printf '%s\\n' "\${COMPREPLY[@]}"`,
          ],
          { env: { ...env, PATH: `${shim}:${process.env['PATH'] ?? ''}` } },
        )
      ).stdout.trim();
    expect(await complete(['aviary', 'pro'])).toBe('promote');
    expect((await complete(['aviary', 'get', 'ro'])).split('\n')).toEqual(['rollout', 'rollouts']);
    expect(await complete(['aviary', 'promote', '--f'])).toBe('--full');
    expect((await complete(['aviary', 'promote', model.slice(0, 4)])).split('\n')).toContain(model);
    expect(await complete(['aviary', 'completion', ''])).toBe('bash\nzsh');
    const zsh = await aviary(['completion', 'zsh']);
    expect(zsh.stdout).toContain('bashcompinit');
    expect((await aviary(['completion', 'fish'])).code).toBe(2);
  }, 60_000);

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

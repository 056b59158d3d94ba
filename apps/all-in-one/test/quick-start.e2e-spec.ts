import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@aviary/testing';
import { main, root, startEmbedded, stop } from './npm-start';

/** The README's curl walk-through, run as written. */
function readmeWalkthrough(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.split('## A rollout with curl')[1] ?? '';
  const block = /```bash\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error('README has no curl walk-through');
  return block;
}

describe('quick start on embedded defaults', () => {
  let dataDir: string;
  beforeAll(() => {
    if (!existsSync(main)) throw new Error('dist is missing: run `npm run build` (npm test does)');
    dataDir = mkdtempSync(join(tmpdir(), 'aviary-quick-start-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('starts with no database or flag server, prints its URLs and a one-time admin token, and runs the README walk-through', async () => {
    const first = await startEmbedded(dataDir);
    try {
      const out = first.output();
      expect(out).toContain('/api/docs');
      expect(out).toContain('built-in');
      // The embedded demo takes every client, and says so.
      expect(out).toMatch(/router auth\s+OFF/);
      const token = /admin token\s+(avy_\S+)/.exec(out)?.[1];
      expect(token).toBeDefined();
      expect(readFileSync(join(dataDir, 'admin-token'), 'utf8').trim()).toBe(token);

      // The router serves the demo model straight away, from the demo baseline.
      const chat = await fetch(`${first.routerUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'demo-chat',
          messages: [{ role: 'user', content: 'Hello' }],
          user: 'alice',
        }),
      });
      expect(chat.status).toBe(200);
      expect(chat.headers.get('x-aviary-model-version')).toBe('v1-fp16');
      expect(
        ((await chat.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message
          .content,
      ).toMatch(/baseline|sorry/i);

      const script = readmeWalkthrough();
      const run = spawnSync('bash', ['-c', `set -euo pipefail\n${script}`], {
        env: { PATH: process.env['PATH'] ?? '', AVIARY_URL: first.url, AVIARY_TOKEN: token ?? '' },
        encoding: 'utf8',
        timeout: 60_000,
        // stdin must not be a socket, or Debian's bash sources ~/.bashrc as if run by sshd.
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const responses = run.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const phases = responses.map((r) => r['phase']).filter(Boolean);
      expect(phases).toEqual(['Pending', 'Progressing', 'Progressing', 'Progressing', 'RolledBack']);
      const events = responses.at(-1) as { items: Array<{ type: string }> };
      expect(events.items.map((e) => e.type)).toEqual(['Created', 'Started', 'Promoted', 'RolledBack']);
    } finally {
      expect(await stop(first)).toBe(0);
    }

    // Second start on the same data, with router keys required: nothing lost, no new token
    // printed, and the router wants the key the banner shows.
    const second = await startEmbedded(dataDir, { AVIARY_ROUTER_AUTH: 'keys' });
    try {
      expect(second.output()).not.toContain('shown once');
      const routerKey = /router key\s+(avr_\S+)/.exec(second.output())?.[1];
      expect(routerKey).toBeDefined();
      const ask = (headers: Record<string, string>) =>
        fetch(`${second.routerUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'Hello' }] }),
        });
      expect((await ask({})).status).toBe(401);
      expect((await ask({ authorization: `Bearer ${routerKey}` })).status).toBe(200);
      const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      const res = await fetch(`${second.url}/api/v1/models/support-chat`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        name: 'support-chat',
        stableVersion: { label: 'llama-8b-fp16' },
      });
    } finally {
      await stop(second);
    }
  }, 180_000);

  it('refuses to start on a bad setting and names it', () => {
    const run = spawnSync(process.execPath, [main], {
      env: {
        PATH: process.env['PATH'] ?? '',
        AVIARY_CONTROL_PLANE_PORT: 'eighty',
        DATABASE_URL: 'mysql://nope',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(78);
    expect(run.stderr).toContain('AVIARY_CONTROL_PLANE_PORT');
    expect(run.stderr).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
  });

  it('runs the README demo: a rollout passes shadow and canary steps, Aviary rolls a refusing candidate back by itself, then on-call pulls the plug with the CLI', async () => {
    const demoDir = mkdtempSync(join(tmpdir(), 'aviary-demo-'));
    const started = await startEmbedded(demoDir, {
      AVIARY_ROUTER_PORT: '0',
      AVIARY_DEMO_BASELINE_PORT: '0',
      AVIARY_DEMO_CANDIDATE_PORT: '0',
    });
    let browser: Browser | null = null;
    try {
      // The status page, opened with the sign-in link npm start printed, watched while the demo runs.
      const statusLink = /status page\s+(http:\/\/\S+\/status\?token=\S+)/.exec(started.output())?.[1];
      expect(statusLink).toBeDefined();
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.goto(statusLink!);
      expect(page.url()).toBe(`${started.url}/status`);
      const seen: string[] = [];
      const watch: { done: Promise<void> | null } = { done: null };
      let demoDone = false;
      const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const demo = spawn(process.execPath, [join(root, 'scripts/demo.mjs')], {
          env: { PATH: process.env['PATH'] ?? '', AVIARY_URL: started.url, AVIARY_DATA_DIR: demoDir },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        demo.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const rolloutPage = /status page: (http:\/\/\S+\/status\/rollouts\/[0-9a-f-]+)/.exec(out)?.[1];
          if (rolloutPage && !watch.done)
            watch.done = watchStatusPage(page, rolloutPage, seen, () => demoDone);
        });
        demo.stderr.on('data', (d: Buffer) => (out += d.toString()));
        demo.on('close', (code) => {
          demoDone = true;
          resolve({ code, out });
        });
        // Stop it well inside the test's timeout, so a stuck demo fails with its output.
        setTimeout(() => demo.kill('SIGKILL'), 200_000).unref();
      });
      if (run.code !== 0)
        throw new Error(
          `the demo exited ${run.code}:\n${run.out}\n--- aviary:\n${started.output().slice(-3000)}`,
        );
      expect(run.out).toMatch(/Progressing step 1\/5 shadow/);
      expect(run.out).toMatch(/Progressing step 2\/5 20%/);
      expect(run.out).toMatch(
        /rolled back by Aviary itself: Rolled back at 50%: analysis Failed: .*refusal rate/,
      );
      expect(run.out).toContain('rolled back: demo-chat serves v1-fp16 to everyone');
      expect(run.code).toBe(0);

      // What a newcomer saw on the status page: the rollout moving through its steps, Aviary's own
      // rollback in plain words, the retry, and on-call's rollback.
      await watch.done;
      expect(seen).toEqual(expect.arrayContaining(['Progressing · Step 1 of 5: shadow (100% sampled)']));
      expect(seen.some((s) => /^Progressing · Step [23] of 5: (20|50)%$/.test(s))).toBe(true);
      expect(seen.at(-1)).toMatch(/^Rolled back · Step \d of 5/);
      const decisions = await page.locator('.decision .headline').allInnerTexts();
      expect(decisions.some((d) => /^Rolled back at 50%: refusals: .+ vs .+ — .+/.test(d))).toBe(true);
      expect(decisions[0]).toMatch(/^Rolled back at .+ by bootstrap-admin: “/);
    } finally {
      await browser?.close();
      await stop(started);
      rmSync(demoDir, { recursive: true, force: true });
    }
  }, 300_000);
});

/**
 * Opens a rollout's status page and records each distinct "phase · step" it shows while the demo runs,
 * then until the page has caught up with the demo's last move (on-call's rollback).
 */
async function watchStatusPage(page: Page, url: string, seen: string[], done: () => boolean): Promise<void> {
  await page.goto(url);
  await page.locator('#section-header [data-fact=step]').waitFor();
  let deadline = Number.POSITIVE_INFINITY;
  for (;;) {
    const phase = await page.locator('#section-header .badge').first().innerText();
    const step = await page.locator('#section-header [data-fact=step]').innerText();
    const now = `${phase} · ${step}`;
    if (seen.at(-1) !== now) seen.push(now);
    if (done()) {
      deadline = Math.min(deadline, Date.now() + 15_000);
      const newest = await page.locator('.decision .headline').first().innerText();
      if ((phase === 'Rolled back' && newest.includes('by bootstrap-admin')) || Date.now() > deadline) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

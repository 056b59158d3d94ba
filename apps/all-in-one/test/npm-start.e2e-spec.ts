import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '@aviary/testing';

const root = join(__dirname, '..', '..', '..');

interface Started {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly url: string;
  readonly statusLink: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * `npm start` as a terminal runs it: scripts/start.mjs (build, then the all-in-one process) in a
 * process group of its own, so a signal to the group is what Ctrl-C sends.
 */
async function start(dataDir: string, script = 'scripts/start.mjs'): Promise<Started> {
  const proc = spawn(process.execPath, [join(root, script)], {
    cwd: root,
    detached: true,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      AVIARY_DATA_DIR: dataDir,
      AVIARY_CONTROL_PLANE_PORT: '0',
      AVIARY_ROUTER_PORT: '0',
      AVIARY_DEMO_BASELINE_PORT: '0',
      AVIARY_DEMO_CANDIDATE_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 120 s:\n${out}`)), 120_000);
    const check = () => {
      if (!out.includes('on-call CLI:')) return;
      clearTimeout(timer);
      resolve();
    };
    proc.stdout?.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before it started:\n${out}`));
    });
  });
  const url = /control plane\s+(http:\/\/\S+)\/api\/v1/.exec(out)?.[1];
  const statusLink = /status page\s+(http:\/\/\S+\/status\?token=\S+)/.exec(out)?.[1];
  if (!url || !statusLink) throw new Error(`no URLs in:\n${out}`);
  return { proc, output: () => out, url, statusLink, exited };
}

/** Whether any process of the group is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Gone already.
  }
}

async function viewerStatus(url: string, token: string): Promise<number> {
  const res = await fetch(`${url}/status/api/overview`, { headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return res.status;
}

describe('npm start', () => {
  let dataDir: string;
  let browser: Browser | null = null;
  const running: Started[] = [];
  beforeAll(() => {
    if (!existsSync(join(root, 'dist/apps/all-in-one/src/main.js')))
      throw new Error('dist is missing: run `npm run build` (npm test does)');
    dataDir = mkdtempSync(join(tmpdir(), 'aviary-npm-start-'));
  });
  afterAll(async () => {
    await browser?.close();
    for (const s of running) if (s.proc.pid && groupAlive(s.proc.pid)) signalGroup(s.proc.pid, 'SIGKILL');
    await Promise.all(running.map((s) => s.exited));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops once, gracefully, on Ctrl-C, and leaves the embedded database free for the next start', async () => {
    const first = await start(dataDir);
    running.push(first);
    const pid = first.proc.pid!;
    // Ctrl-C: SIGINT to the whole foreground group (start.mjs and Aviary), then the same again while
    // it is shutting down (a second press, or a launcher passing the first one on late).
    signalGroup(pid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 150));
    signalGroup(pid, 'SIGINT');
    const { code, signal } = await first.exited;
    const out = first.output();
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(out.match(/SIGINT: stopping…/g)).toHaveLength(1);
    expect(out).toContain('embedded PostgreSQL stopped');
    expect(groupAlive(pid)).toBe(false);
    expect(existsSync(join(dataDir, 'pg', 'aviary-embedded.lock'))).toBe(false);

    // It starts again at once on the same data, finding no lock to clear, with the same status link.
    const second = await start(dataDir, 'dist/apps/all-in-one/src/main.js');
    running.push(second);
    expect(second.output()).not.toContain('stale lock');
    expect(second.statusLink.replace(second.url, '')).toBe(first.statusLink.replace(first.url, ''));
    signalGroup(second.proc.pid!, 'SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  }, 300_000);

  it('keeps the status link across restarts until its token is revoked, then makes a new one', async () => {
    const a = await start(dataDir, 'dist/apps/all-in-one/src/main.js');
    running.push(a);
    const token = new URL(a.statusLink).searchParams.get('token')!;
    expect(readFileSync(join(dataDir, 'status-link-token'), 'utf8').trim()).toBe(token);
    expect(await viewerStatus(a.url, token)).toBe(200);
    // Someone opens the shared link (made before this restart): signed in, the page shows the models.
    browser = await launchChromium();
    const shared = await (await browser.newContext()).newPage();
    await shared.goto(a.statusLink);
    await shared.waitForSelector('[data-model="demo-chat"]');

    // Revoking the link's token ends the shared link at once.
    const admin = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const tokens = (await (
      await fetch(`${a.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${admin}` } })
    ).json()) as { items: { id: string; name: string }[] };
    const link = tokens.items.find((t) => t.name === 'status-page-link')!;
    const revoked = await fetch(`${a.url}/api/v1/tokens/${link.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(revoked.status).toBe(200);
    expect(await viewerStatus(a.url, token)).toBe(401);
    // The open page signs out at its next refresh.
    await shared.waitForSelector('#token', { timeout: 20_000 });
    signalGroup(a.proc.pid!, 'SIGTERM');
    expect((await a.exited).code).toBe(0);

    // The next start prints a new link; the revoked one stays dead.
    const b = await start(dataDir, 'dist/apps/all-in-one/src/main.js');
    running.push(b);
    const fresh = new URL(b.statusLink).searchParams.get('token')!;
    expect(fresh).not.toBe(token);
    expect(await viewerStatus(b.url, fresh)).toBe(200);
    expect(await viewerStatus(b.url, token)).toBe(401);
    const again = await (await browser.newContext()).newPage();
    await again.goto(b.statusLink.replace(fresh, encodeURIComponent(token)));
    await again.waitForSelector('#token');
    await again.goto(b.statusLink);
    await again.waitForSelector('[data-model="demo-chat"]');
    signalGroup(b.proc.pid!, 'SIGTERM');
    expect((await b.exited).code).toBe(0);
  }, 300_000);
});

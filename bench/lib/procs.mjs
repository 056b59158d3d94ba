// Child processes for the benchmark: each peer and upstream runs in its own process (its own event
// loop), optionally pinned to a CPU with taskset. Everything started here is stopped by pid on exit.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';

const children = new Set();

export function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `url` until it answers (any status below 500 counts unless `ok` says otherwise). */
export async function waitHttp(url, { timeoutMs = 30_000, ok = (s) => s < 500, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(
        `${child.name} exited (code ${child.exitCode}) before ${url} answered:\n${child.tail()}`,
      );
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (ok(res.status)) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = String(err?.cause?.code ?? err?.message ?? err);
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${url} (${last})`);
    await sleep(100);
  }
}

/**
 * Starts `cmd args` (under `taskset -c <cpu>` when `cpu` is a number), keeping the last lines of its
 * output for error messages. `pid` is the process itself: taskset execs into the command.
 */
export function start(name, cmd, args, { env = {}, cpu = null, cwd, logFile } = {}) {
  const argv = cpu === null ? [cmd, ...args] : ['taskset', '-c', String(cpu), cmd, ...args];
  const child = spawn(argv[0], argv.slice(1), {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const log = logFile ? createWriteStream(logFile, { flags: 'a' }) : null;
  const keep = (chunk) => {
    log?.write(chunk);
    for (const line of String(chunk).split('\n')) if (line.trim()) lines.push(line);
    while (lines.length > 40) lines.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.name = name;
  child.tail = () => lines.slice(-20).join('\n');
  child.output = () => lines.join('\n');
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.on('error', (err) => lines.push(`spawn error: ${err.message}`));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Resolves with the first stdout/stderr line matching `re` (its match), or rejects on exit / timeout. */
export function waitLine(child, re, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name}: no line matching ${re} after ${timeoutMs} ms:\n${child.tail()}`));
    }, timeoutMs);
    const onData = (chunk) => {
      const m = re.exec(String(chunk));
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`${child.name} exited (code ${code}):\n${child.tail()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 8_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stop(c, 3_000)));
}

/** Last resort on an abrupt exit: no waiting possible, just signal what is still ours. */
export function killAllSync() {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
}

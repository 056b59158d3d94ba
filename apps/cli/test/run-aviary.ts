import { spawn } from 'node:child_process';
import { join } from 'node:path';

const bin = join(__dirname, '..', '..', '..', 'bin', 'aviary.mjs');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Any command as a child process, asynchronously: a control plane under test runs in the test's
 * own process, so a synchronous spawn would freeze it.
 */
export function run(
  command: string,
  args: string[],
  opts: { env: Record<string, string | undefined>; cwd?: string },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the real `aviary` bin as a process, without a terminal (stdin is not a TTY), in UTC. */
export function aviary(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return run(process.execPath, [bin, ...args], { env: { PATH: process.env['PATH'], TZ: 'UTC', ...env } });
}

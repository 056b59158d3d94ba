import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const root = join(__dirname, '..', '..', '..');
export const main = join(root, 'dist/apps/all-in-one/src/main.js');

export interface Started {
  proc: ChildProcess;
  output: () => string;
  /** The control plane. */
  url: string;
  routerUrl: string;
}

/**
 * Runs Aviary the way `npm start` does: one process, embedded database, built-in flags, demo upstreams.
 * `nodeArgs` go before the script (e.g. `--throw-deprecation`).
 */
export async function startEmbedded(
  dataDir: string,
  env: Record<string, string> = {},
  nodeArgs: readonly string[] = [],
): Promise<Started> {
  const proc = spawn(process.execPath, [...nodeArgs, main], {
    cwd: root,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      AVIARY_DATA_DIR: dataDir,
      AVIARY_CONTROL_PLANE_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      const m = /control plane\s+(http:\/\/\S+)\/api\/v1/.exec(out);
      if (m?.[1] && out.includes('admin token')) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout?.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}:\n${out}`));
    });
  });
  const routerUrl = /router\s+(http:\/\/\S+)\/v1/.exec(out)?.[1];
  if (!routerUrl) throw new Error(`no router URL in:\n${out}`);
  return { proc, output: () => out, url, routerUrl };
}

export async function stop(s: Started): Promise<number | null> {
  if (s.proc.exitCode !== null) return s.proc.exitCode;
  const exited = new Promise<number | null>((resolve) => s.proc.once('exit', (code) => resolve(code)));
  s.proc.kill('SIGTERM');
  return exited;
}

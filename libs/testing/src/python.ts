import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The openai-python release the router's Python e2e tests run against. */
export const PYTHON_OPENAI_VERSION = '3.57.0';

/**
 * A Python with the real openai SDK, in a venv kept under ~/.cache/aviary (created the first time,
 * from PyPI, so a second run is quick). AVIARY_TEST_PYTHON points at another interpreter that has
 * `openai` installed.
 */
export function pythonWithOpenAI(): string {
  const given = process.env['AVIARY_TEST_PYTHON'];
  if (given) return given;
  const dir = join(homedir(), '.cache', 'aviary', `python-openai-${PYTHON_OPENAI_VERSION}`);
  const python = join(dir, 'bin', 'python');
  if (existsSync(join(dir, '.ready'))) return python;
  mkdirSync(join(homedir(), '.cache', 'aviary'), { recursive: true });
  // Built aside and renamed into place, so a half-made venv is never taken for a ready one.
  const staging = `${dir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr || r.stdout}`);
  };
  run('python3', ['-m', 'venv', staging]);
  run(join(staging, 'bin', 'python'), [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    `openai==${PYTHON_OPENAI_VERSION}`,
  ]);
  writeFileSync(join(staging, '.ready'), `${PYTHON_OPENAI_VERSION}\n`);
  try {
    renameSync(staging, dir);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another run got there first
  }
  // Only `python` is used (its scripts keep the staging path in their shebangs; python -m does not).
  return python;
}

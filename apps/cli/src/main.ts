import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { runCli } from './aviary-cli';

// dist/apps/cli/src/main.js → the checkout (or image) root.
const root = resolve(__dirname, '..', '..', '..', '..');

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function version(): string {
  try {
    return (
      (JSON.parse(readText(join(root, 'package.json')) ?? '{}') as { version?: string }).version ?? 'unknown'
    );
  } catch {
    return 'unknown';
  }
}

/** `npm start` keeps its admin token in AVIARY_DATA_DIR (default .aviary in the checkout). */
function tokenFiles(): string[] {
  const dataDir = process.env['AVIARY_DATA_DIR']?.trim();
  if (dataDir) return [resolve(dataDir, 'admin-token')];
  return [...new Set([resolve('.aviary', 'admin-token'), join(root, '.aviary', 'admin-token')])];
}

const io = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
  confirm: async (question: string): Promise<boolean | null> => {
    if (!process.stdin.isTTY) return null;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
  readFile: readText,
  isTTY: process.stdout.isTTY === true,
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  now: () => Date.now(),
};

runCli(process.argv.slice(2), process.env, io, { version: version(), tokenFiles: tokenFiles() }).then(
  (code) => (process.exitCode = code),
  () => (process.exitCode = 1),
);

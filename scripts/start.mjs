// `npm start`: builds if needed, then runs Aviary on embedded defaults (PGlite database, built-in
// flag source). Every setting can be overridden with the env vars listed in the README.
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
console.log('aviary: building (incremental)…');
const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, AVIARY_QUIET: '1' },
});
if (build.status !== 0) process.exit(build.status ?? 1);

const child = spawn(
  process.execPath,
  ['--enable-source-maps', join(root, 'dist/apps/all-in-one/src/main.js')],
  {
    cwd: root,
    stdio: 'inherit',
    // Readable log lines in a terminal; production (and AVIARY_LOG_FORMAT=json) gets pino's JSON.
    env: { AVIARY_DATA_DIR: join(root, '.aviary'), AVIARY_LOG_FORMAT: 'pretty', ...process.env },
  },
);
// A terminal's Ctrl-C already reaches the child (same process group); passing signals on covers a
// `kill` aimed at this process alone. Once per signal: the child stops once however many arrive,
// and this process stays until it has, so the embedded database is closed and its lock released.
const passedOn = new Set();
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    if (passedOn.has(sig)) return;
    passedOn.add(sig);
    child.kill(sig);
  });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

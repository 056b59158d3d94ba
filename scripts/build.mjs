// Compiles apps and libs to dist/ (incremental, so a second run is quick) and rewrites the
// @aviary/* path aliases to relative requires so plain `node` can run the output.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (pkg, file) => join(root, 'node_modules', pkg, file);
function run(label, args) {
  const started = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${label} failed`);
    process.exit(r.status ?? 1);
  }
  if (!process.env.AVIARY_QUIET)
    console.log(`build: ${label} done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}

if (!existsSync(join(root, 'libs/persistence/src/generated/prisma/client.ts')))
  run('prisma generate', [join(root, 'scripts/prisma-generate.mjs')]);
run('tsc', [
  bin('typescript', 'bin/tsc'),
  '-p',
  'tsconfig.build.json',
  '--incremental',
  '--tsBuildInfoFile',
  'dist/.tsbuildinfo',
]);
run('path aliases', [bin('tsc-alias', 'dist/bin/index.js'), '-p', 'tsconfig.build.json']);

// Browser files of the status page are served from next to the compiled controller.
for (const dir of ['apps/control-plane/src/status/public'])
  cpSync(join(root, dir), join(root, 'dist', dir), { recursive: true });

// Generates the Prisma client into libs/persistence/src/generated (git-ignored).
// Prisma's CLI wants a native schema engine it would download at first use; `generate` never runs
// it, so when none is present we point PRISMA_SCHEMA_ENGINE_BINARY at a placeholder file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY) {
  const placeholder = join(root, 'node_modules', '.cache', 'aviary', 'schema-engine-placeholder');
  if (!existsSync(placeholder)) {
    mkdirSync(dirname(placeholder), { recursive: true });
    writeFileSync(placeholder, '#!/bin/sh\necho "schema engine not available offline" >&2\nexit 1\n', {
      mode: 0o755,
    });
  }
  env.PRISMA_SCHEMA_ENGINE_BINARY = placeholder;
}
const result = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'prisma', 'build', 'index.js'), 'generate'],
  {
    cwd: root,
    env,
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);

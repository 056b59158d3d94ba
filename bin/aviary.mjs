#!/usr/bin/env node
// The `aviary` on-call CLI (apps/cli). Needs a build: `npm run build` (npm start and npm test build too).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'apps', 'cli', 'src', 'main.js');
if (!existsSync(main)) {
  process.stderr.write('aviary: the CLI is not built yet; run `npm run build` in the Aviary checkout\n');
  process.exit(1);
}
createRequire(import.meta.url)(main);

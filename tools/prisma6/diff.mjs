#!/usr/bin/env node
// Prints the SQL Prisma writes for a schema built from nothing:
//   prisma migrate diff --from-empty --to-schema-datamodel <schema> --script
// using the pinned Prisma 6.19 in this folder (its WASM schema engine works offline; Prisma 7's CLI
// needs a native engine download). Usage: node tools/prisma6/diff.mjs [schema.prisma]
// Default schema: prisma/schema.prisma. Installs the pinned CLI on first use (npm ci, no scripts).
//
// Prisma 7 schemas carry no `url` in the datasource block and 6.19 refuses a datasource without one,
// so the CLI gets a temporary copy with a placeholder url (never connected to; see prisma.config.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const schemaPath = resolve(process.argv[2] ?? join(root, 'prisma', 'schema.prisma'));
const cli = join(here, 'node_modules', 'prisma', 'build', 'index.js');

function fail(message) {
  process.stderr.write(`[prisma6] ${message}\n`);
  process.exit(1);
}

if (!existsSync(cli)) {
  process.stderr.write('[prisma6] installing the pinned Prisma 6.19 CLI (npm ci --prefix tools/prisma6)\n');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  // The registry connection sometimes resets mid-download (npm's own retries do not cover a body
  // cut short): three attempts, a few seconds apart, before giving up.
  for (let attempt = 1; ; attempt++) {
    const install = spawnSync(npm, ['ci', '--prefix', here, '--ignore-scripts', '--no-audit', '--no-fund'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (install.status === 0 && existsSync(cli)) break;
    if (attempt === 3) fail(`could not install; run: npm ci --prefix tools/prisma6`);
    process.stderr.write(`[prisma6] install attempt ${attempt} failed; retrying in ${attempt * 3} s\n`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, attempt * 3000);
  }
}

function withPlaceholderUrl(schema) {
  const block = /(datasource\s+\w+\s*\{)([^}]*)\}/m;
  const match = block.exec(schema);
  if (!match) fail(`no datasource block in ${schemaPath}`);
  if (/^\s*url\s*=/m.test(match[2])) return schema;
  return schema.replace(block, `$1$2  url = "postgresql://render-only@127.0.0.1:1/unused"\n}`);
}

const work = mkdtempSync(join(tmpdir(), 'aviary-prisma6-'));
try {
  const tempSchema = join(work, 'schema.prisma');
  writeFileSync(tempSchema, withPlaceholderUrl(readFileSync(schemaPath, 'utf8')));

  // The CLI checks that a query engine library exists before any command, and would download one.
  // Schema-only commands never load it, so an empty placeholder is enough.
  const placeholder = join(here, 'node_modules', '.cache', 'engine-placeholder');
  if (!existsSync(placeholder)) {
    mkdirSync(dirname(placeholder), { recursive: true });
    writeFileSync(placeholder, '');
  }
  const env = {
    ...process.env,
    PRISMA_QUERY_ENGINE_LIBRARY: placeholder,
    PRISMA_SCHEMA_ENGINE_BINARY: placeholder,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
  };
  const args = [cli, 'migrate', 'diff', '--config', join(here, 'prisma.config.ts')];
  args.push('--from-empty', '--to-schema-datamodel', tempSchema, '--script');
  const result = spawnSync(process.execPath, args, { cwd: here, env, encoding: 'utf8' });
  if (result.status !== 0) {
    fail(`prisma migrate diff failed (exit ${result.status}):\n${result.stderr}${result.stdout}`);
  }
  process.stdout.write(result.stdout);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// The shared services benchmarks need: the address scripts/services/<name>.sh answers, and a fresh
// PostgreSQL database per run (dropped by the cleanup it registers).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/** Starts (if needed) the service; its address, or `{ error }` with the script's last line. */
export function serviceAddress(name) {
  const r = spawnSync('bash', [join(root, 'scripts/services', `${name}.sh`), '--url'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (r.status === 0) return { url: (r.stdout ?? '').trim() };
  return { error: `${r.stderr ?? ''}${r.error ?? ''}`.trim().split('\n').pop() };
}

/** A new database on the server at `adminUrl`; `cleanups` gets the function that drops it. */
export async function freshDatabase(adminUrl, prefix, cleanups) {
  const { Client } = require('pg');
  const name = `${prefix}_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  cleanups.push(async () => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return { url: u.toString(), name };
}

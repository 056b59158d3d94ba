import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createTestDatabase, diffCatalogs, snapshotCatalog, type CatalogSnapshot } from '@aviary/testing';
import { resolveMigrationsDir } from './migrator';

// Guards the promise that prisma/schema.prisma (what the Prisma client believes) and
// prisma/migrations (what databases really get) describe the same schema. Prisma renders the SQL
// for the schema (pinned Prisma 6.19, tools/prisma6: its WASM engine works offline); that SQL and
// the migrations each build a fresh database, and the two catalogs must match.

jest.setTimeout(240_000);

const repoRoot = resolve(resolveMigrationsDir(), '..', '..');
const schemaPath = join(repoRoot, 'prisma', 'schema.prisma');
const diffTool = join(repoRoot, 'tools', 'prisma6', 'diff.mjs');

/**
 * What the migrations have on purpose and the schema cannot say: each is written by hand at the end
 * of a migration, under a comment. Add a key here (`index name`, `constraint table.name`, …) when
 * you add one.
 */
const HAND_WRITTEN = [
  'index rollouts_one_active_per_model',
  'index model_versions_one_stable_per_model',
  'function aviary_check_stable_version()',
  'trigger models.models_one_stable_version',
  'trigger model_versions.model_versions_one_stable_version',
  // A constraint trigger is a constraint as well as a trigger in the catalog.
  'constraint models.models_one_stable_version',
  'constraint model_versions.model_versions_one_stable_version',
];

/** `prisma migrate diff --from-empty --to-schema-datamodel <schema> --script`, via tools/prisma6. */
async function renderSchemaSql(schema: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [diffTool, schema], {
      timeout: 200_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(
      `could not render SQL from ${schema} with the pinned Prisma 6.19 (tools/prisma6): ${String(err)}\n${stderr}\n` +
        'It installs itself on first use; if that failed, run: npm ci --prefix tools/prisma6',
    );
  }
}

async function snapshotOf(url: string): Promise<CatalogSnapshot> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await snapshotCatalog(client);
  } finally {
    await client.end();
  }
}

/** A fresh database built by running `sql`. */
async function catalogFromSql(sql: string): Promise<CatalogSnapshot> {
  const db = await createTestDatabase({ empty: true });
  try {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
    return await snapshotOf(db.url);
  } finally {
    await db.drop();
  }
}

async function catalogFromMigrations(): Promise<CatalogSnapshot> {
  const db = await createTestDatabase();
  try {
    return await snapshotOf(db.url);
  } finally {
    await db.drop();
  }
}

function drift(fromSchema: CatalogSnapshot, fromMigrations: CatalogSnapshot): string[] {
  return diffCatalogs(fromSchema, fromMigrations, {
    expectedLabel: 'schema',
    actualLabel: 'migrations',
    allowedExtras: HAND_WRITTEN,
  });
}

describe('prisma/schema.prisma and prisma/migrations', () => {
  let fromMigrations: CatalogSnapshot;
  beforeAll(async () => {
    fromMigrations = await catalogFromMigrations();
  });

  it('describe the same database', async () => {
    const fromSchema = await catalogFromSql(await renderSchemaSql(schemaPath));
    const differences = drift(fromSchema, fromMigrations);
    if (differences.length > 0) {
      throw new Error(
        `prisma/schema.prisma and prisma/migrations have drifted apart:\n  ${differences.join('\n  ')}\n\n` +
          'Add a migration (prisma/migrations/<timestamp>_<name>/migration.sql) that makes the difference; ' +
          '`bash tools/prisma6/diff.sh` prints the SQL Prisma writes for the whole schema to copy statements from. ' +
          'Never edit an applied migration.',
      );
    }
    expect(fromSchema.size).toBeGreaterThan(0);
  });

  it('keep the hand-written additions the schema cannot express', () => {
    for (const key of HAND_WRITTEN) expect([key, fromMigrations.has(key)]).toEqual([key, true]);
    expect(fromMigrations.get('index rollouts_one_active_per_model')).toBe(
      'CREATE UNIQUE INDEX rollouts_one_active_per_model ON public.rollouts USING btree (model_id) WHERE active',
    );
  });

  it('are reported as drifted when the schema changes without a migration', async () => {
    // Proves the comparison above can fail: a schema with one more table and one more column.
    const original = await readFile(schemaPath, 'utf8');
    expect(original).toMatch(/^model Model \{$/m);
    const changed = `${original.replace(/^model Model \{$/m, 'model Model {\n  driftProbe String? @map("drift_probe")')}
model DriftProbe {
  id Int @id
  @@map("drift_probes")
}
`;
    const dir = await mkdtemp(join(tmpdir(), 'aviary-drift-'));
    try {
      await writeFile(join(dir, 'schema.prisma'), changed);
      const differences = drift(
        await catalogFromSql(await renderSchemaSql(join(dir, 'schema.prisma'))),
        fromMigrations,
      );
      expect(differences).toEqual(
        expect.arrayContaining([
          'column models.drift_probe: only in schema (text NULL)',
          'table drift_probes: only in schema (r)',
          'column drift_probes.id: only in schema (integer NOT NULL)',
          expect.stringMatching(/^constraint drift_probes\.drift_probes_pkey: only in schema/),
        ]),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTestDatabase, type TestDatabase } from '@aviary/testing';

// "A model has exactly one stable version at all times" is a database rule, not only code: a partial
// unique index (at most one) and a deferred constraint trigger (the one the model names, checked at
// commit so one transaction can retire the old and promote the new).

jest.setTimeout(60_000);

describe('one stable version per model (database constraint)', () => {
  let db: TestDatabase;
  let pg: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg?.end();
    await db?.drop();
  });

  /** A model with versions v1 (stable, named by the model) and v2 (registered). */
  async function model(): Promise<{ id: string; v1: string; v2: string }> {
    const id = randomUUID();
    const v1 = randomUUID();
    const v2 = randomUUID();
    await pg.query('BEGIN');
    await pg.query(`INSERT INTO models (id, name, updated_at) VALUES ($1, $2, now())`, [
      id,
      `m-${id.slice(0, 8)}`,
    ]);
    for (const [v, status] of [
      [v1, 'stable'],
      [v2, 'registered'],
    ] as const) {
      await pg.query(
        `INSERT INTO model_versions (id, model_id, label, upstream_base_url, upstream_model, timeout_ms, status, updated_at)
         VALUES ($1, $2, $3, 'http://127.0.0.1:9/v1', 'x', 1000, $4, now())`,
        [v, id, v.slice(0, 8), status],
      );
    }
    await pg.query('UPDATE models SET stable_version_id = $1 WHERE id = $2', [v1, id]);
    await pg.query('COMMIT');
    return { id, v1, v2 };
  }

  async function inTransaction(statements: Array<[string, unknown[]]>): Promise<string | null> {
    await pg.query('BEGIN');
    try {
      for (const [sql, params] of statements) await pg.query(sql, params);
      await pg.query('COMMIT');
      return null;
    } catch (err) {
      await pg.query('ROLLBACK');
      return (err as Error).message;
    }
  }

  const status = (v: string, s: string): [string, unknown[]] => [
    'UPDATE model_versions SET status = $2::"ModelVersionStatus" WHERE id = $1',
    [v, s],
  ];
  const stable = (m: string, v: string): [string, unknown[]] => [
    'UPDATE models SET stable_version_id = $2 WHERE id = $1',
    [m, v],
  ];

  it('refuses a second stable version', async () => {
    const m = await model();
    expect(await inTransaction([status(m.v2, 'stable')])).toMatch(/model_versions_one_stable_per_model/);
  });

  it('refuses a model naming a version that is not marked stable', async () => {
    const m = await model();
    expect(await inTransaction([status(m.v1, 'retired')])).toMatch(/must be one of its versions/);
    expect(await inTransaction([stable(m.id, m.v2)])).toMatch(/must be one of its versions/);
  });

  it('refuses a model with versions and no stable version', async () => {
    const m = await model();
    expect(await inTransaction([stable(m.id, null as unknown as string)])).toMatch(
      /has versions but no stable version/,
    );
  });

  it('refuses another model’s version as the stable one', async () => {
    const a = await model();
    const b = await model();
    expect(await inTransaction([stable(a.id, b.v2)])).toMatch(/must be one of its versions/);
  });

  it('lets one transaction retire the old stable version and promote the new one', async () => {
    const m = await model();
    expect(await inTransaction([status(m.v1, 'retired'), status(m.v2, 'stable'), stable(m.id, m.v2)])).toBe(
      null,
    );
    const { rows } = await pg.query<{ id: string; status: string }>(
      'SELECT id, status FROM model_versions WHERE model_id = $1 ORDER BY status',
      [m.id],
    );
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({
      [m.v1]: 'retired',
      [m.v2]: 'stable',
    });
  });
});

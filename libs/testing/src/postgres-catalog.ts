import type { ClientBase } from 'pg';

/**
 * A normalised dump of one schema's catalog as `kind name -> definition`, for comparing two
 * databases: e.g. one built from prisma/schema.prisma and one from the migrations. Column order is
 * left out on purpose: a column added by a later migration comes last, wherever the schema lists it.
 */
export type CatalogSnapshot = ReadonlyMap<string, string>;

export interface SnapshotOptions {
  readonly schema?: string;
  /** Left out with their indexes, constraints, triggers. Default: `_prisma_migrations`. */
  readonly excludeTables?: readonly string[];
}

export async function snapshotCatalog(
  client: Pick<ClientBase, 'query'>,
  options: SnapshotOptions = {},
): Promise<CatalogSnapshot> {
  const schema = options.schema ?? 'public';
  const excluded = new Set(options.excludeTables ?? ['_prisma_migrations']);
  const entries: Array<[string, string]> = [];
  const add = (key: string, value: string) => entries.push([key, value]);

  const enums = await client.query<{ name: string; labels: string[] }>(
    `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = $1 GROUP BY t.typname`,
    [schema],
  );
  for (const e of enums.rows) add(`enum ${e.name}`, e.labels.join(', '));

  const tables = await client.query<{ name: string; kind: string }>(
    `SELECT c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm')`,
    [schema],
  );
  for (const t of tables.rows)
    if (!excluded.has(t.name))
      add(`${t.kind === 'v' || t.kind === 'm' ? 'view' : 'table'} ${t.name}`, t.kind);

  const columns = await client.query<{
    table: string;
    column: string;
    type: string;
    not_null: boolean;
    default: string | null;
    identity: string;
    generated: string;
  }>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
            pg_get_expr(d.adbin, d.adrelid) AS default, a.attidentity::text AS identity, a.attgenerated::text AS generated
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  for (const c of columns.rows) {
    if (excluded.has(c.table)) continue;
    const parts = [c.type, c.not_null ? 'NOT NULL' : 'NULL'];
    if (c.default !== null) parts.push(`DEFAULT ${c.default}`);
    if (c.identity) parts.push(`IDENTITY ${c.identity}`);
    if (c.generated) parts.push(`GENERATED ${c.generated}`);
    add(`column ${c.table}.${c.column}`, parts.join(' '));
  }

  const indexes = await client.query<{ name: string; table: string; definition: string }>(
    `SELECT indexname AS name, tablename AS table, indexdef AS definition FROM pg_indexes WHERE schemaname = $1`,
    [schema],
  );
  for (const i of indexes.rows) if (!excluded.has(i.table)) add(`index ${i.name}`, i.definition);

  const constraints = await client.query<{ name: string; table: string; type: string; definition: string }>(
    `SELECT con.conname AS name, rel.relname AS table, con.contype::text AS type, pg_get_constraintdef(con.oid, true) AS definition
       FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace n ON n.oid = rel.relnamespace
      WHERE n.nspname = $1`,
    [schema],
  );
  for (const c of constraints.rows)
    if (!excluded.has(c.table)) add(`constraint ${c.table}.${c.name}`, `${c.type}: ${c.definition}`);

  const sequences = await client.query<{
    name: string;
    data_type: string;
    start_value: string;
    increment_by: string;
  }>(
    `SELECT sequencename AS name, data_type::text, start_value::text, increment_by::text FROM pg_sequences WHERE schemaname = $1`,
    [schema],
  );
  for (const s of sequences.rows)
    add(`sequence ${s.name}`, `${s.data_type} START ${s.start_value} INCREMENT ${s.increment_by}`);

  const functions = await client.query<{ name: string; definition: string }>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS name, pg_get_functiondef(p.oid) AS definition
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.prokind IN ('f', 'p')`,
    [schema],
  );
  for (const f of functions.rows) add(`function ${f.name}`, f.definition.trim());

  const triggers = await client.query<{ name: string; table: string; definition: string }>(
    `SELECT t.tgname AS name, c.relname AS table, pg_get_triggerdef(t.oid, true) AS definition
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND NOT t.tgisinternal`,
    [schema],
  );
  for (const t of triggers.rows)
    if (!excluded.has(t.table)) add(`trigger ${t.table}.${t.name}`, t.definition);

  const views = await client.query<{ name: string; definition: string }>(
    `SELECT c.relname AS name, pg_get_viewdef(c.oid, true) AS definition FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')`,
    [schema],
  );
  for (const v of views.rows) if (!excluded.has(v.name)) add(`view ${v.name}`, v.definition.trim());

  return new Map(entries.sort(([a], [b]) => a.localeCompare(b)));
}

export interface CatalogDiffOptions {
  /** Labels for the two sides in the report. */
  readonly expectedLabel?: string;
  readonly actualLabel?: string;
  /** Keys (`index name`, `constraint table.name`, …) `actual` may have that `expected` lacks. */
  readonly allowedExtras?: readonly string[];
}

/** One line per difference, e.g. `column models.description: schema "text NULL", migrations "text NOT NULL"`. */
export function diffCatalogs(
  expected: CatalogSnapshot,
  actual: CatalogSnapshot,
  options: CatalogDiffOptions = {},
): string[] {
  const left = options.expectedLabel ?? 'expected';
  const right = options.actualLabel ?? 'actual';
  const allowed = new Set(options.allowedExtras ?? []);
  const lines: string[] = [];
  const keys = [...new Set([...expected.keys(), ...actual.keys()])].sort();
  for (const key of keys) {
    const a = expected.get(key);
    const b = actual.get(key);
    if (a === b) continue;
    if (a === undefined) {
      if (!allowed.has(key)) lines.push(`${key}: only in ${right} (${b})`);
    } else if (b === undefined) {
      lines.push(`${key}: only in ${left} (${a})`);
    } else {
      lines.push(`${key}: ${left} ${JSON.stringify(a)}, ${right} ${JSON.stringify(b)}`);
    }
  }
  return lines;
}

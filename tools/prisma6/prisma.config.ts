// Prisma 6.19's WASM schema engine (`engine: 'js'`) renders migration SQL without the native engine
// binary that Prisma 7's CLI would download (unreachable here). The JS engine insists on a driver
// adapter and, when it loads, asks the database one question (does the schema exist, which version).
// `migrate diff --from-empty --to-schema-datamodel` needs nothing else, so this adapter answers that
// probe and refuses every other query: the tool can only render SQL, never touch a database.
import { defineConfig } from 'prisma/config';

const PROBE = 'FROM pg_namespace WHERE nspname';

function refuse(query: { sql?: string }): never {
  throw new Error(`tools/prisma6 only renders SQL and never queries a database (asked: ${query.sql ?? '?'})`);
}

const renderOnlyConnection = {
  provider: 'postgres',
  adapterName: 'aviary-render-only',
  async queryRaw(query: { sql: string }) {
    if (!query.sql.includes(PROBE)) refuse(query);
    return {
      columnNames: ['exists', 'version', 'numeric_version'],
      columnTypes: [5 /* Boolean */, 7 /* Text */, 0 /* Int32 */],
      rows: [[true, 'PostgreSQL 16.0 (aviary render-only adapter)', 160000]],
    };
  },
  executeRaw: async (query: { sql: string }) => refuse(query),
  executeScript: async (sql: string) => refuse({ sql }),
  startTransaction: async () => refuse({ sql: 'BEGIN' }),
  getConnectionInfo: () => ({ schemaName: 'public', supportsRelationJoins: true }),
  dispose: async () => {},
};

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  // The real factory type lives in @prisma/driver-adapter-utils, which this tool does not install.
  adapter: async () =>
    ({
      provider: 'postgres',
      adapterName: 'aviary-render-only',
      connect: async () => renderOnlyConnection,
      connectToShadowDb: async () => renderOnlyConnection,
    }) as never,
});

// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL and exits (e.g. a Helm hook Job).
import { z } from 'zod';
import { envField, EnvValidationError, parseEnv } from '@aviary/config';
import { applyMigrations, createPrismaClient, resolveMigrationsDir } from '@aviary/persistence';

async function main(): Promise<void> {
  const env = parseEnv('db:migrate', z.object({ DATABASE_URL: envField.postgresUrl() }), process.env);
  const client = createPrismaClient({ url: env.DATABASE_URL, poolMax: 1, queryTimeoutMs: 0 });
  try {
    const { applied } = await applyMigrations(client.pool, {
      migrationsDir: resolveMigrationsDir(),
      log: (m: string) => console.log(m),
    });
    console.log(
      applied.length
        ? `applied ${applied.length} migration(s): ${applied.join(', ')}`
        : 'database is up to date',
    );
  } finally {
    await client.close();
  }
}

main().catch((err: unknown) => {
  console.error(
    err instanceof EnvValidationError
      ? err.message
      : `migration failed: ${err instanceof Error ? err.message : String(err)}`,
  );
  process.exit(1);
});

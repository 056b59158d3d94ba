// The persistence adapter: Prisma client and its factory, the migrator, the embedded database.
// Only repositories should import from here: domain code never sees Prisma types.
export { PrismaClient, Prisma, $Enums } from './generated/prisma/client';
export type {
  ApiToken,
  FlagPublication,
  Model,
  ModelVersion,
  Rollout,
  RolloutEvent,
} from './generated/prisma/client';
export { createPrismaClient, type CreatePrismaClientOptions, type PrismaHandle } from './prisma.factory';
export { isDatabaseUnavailable, isPrismaKnownError, isUniqueViolation } from './prisma.errors';
export {
  applyMigrations,
  listMigrationRecords,
  migrationChecksum,
  MigrationError,
  PRISMA_MIGRATE_LOCK_KEY,
  PRISMA_MIGRATIONS_TABLE_DDL,
  readMigrations,
  resolveMigrationsDir,
  scriptMatchesChecksum,
  type ApplyMigrationsOptions,
  type MigrationErrorCode,
  type MigrationFile,
  type MigrationRecord,
  type MigrationTarget,
} from './migrator';
export {
  EMBEDDED_POOL_MAX,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
} from './embedded-postgres';
export * from './evidence/evidence.store';
export * from './evidence/dead-letter.store';

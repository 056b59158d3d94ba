import { defineConfig } from 'prisma/config';

// The CLI's schema engine cannot be downloaded in air-gapped builds; `prisma generate` does not need it.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://aviary@127.0.0.1:5432/aviary' },
});

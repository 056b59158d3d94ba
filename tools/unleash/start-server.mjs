// Starts the pinned unleash-server for tests and local development. Run by
// scripts/services/unleash.sh, which passes everything through the environment.
// unleash-server 8 is ESM-only, hence .mjs and a static import.
import { start } from 'unleash-server';

const env = (name, fallback) => process.env[name] ?? fallback;

// Nothing here can reach the internet: no version check, no telemetry, no usage beacons.
process.env.SEND_TELEMETRY = 'false';
process.env.CHECK_VERSION = 'false';
process.env.SCARF_ANALYTICS = 'false';

const unleash = await start({
  db: {
    host: env('UNLEASH_DB_HOST', '127.0.0.1'),
    port: Number(env('UNLEASH_DB_PORT', '54329')),
    user: env('UNLEASH_DB_USER', 'aviary'),
    password: env('UNLEASH_DB_PASSWORD', 'aviary'),
    database: env('UNLEASH_DB_NAME', 'aviary_unleash'),
    ssl: false,
    pool: { min: 0, max: 6 },
  },
  server: {
    host: env('UNLEASH_HOST', '127.0.0.1'),
    port: Number(env('UNLEASH_PORT', '4242')),
    unleashUrl: `http://${env('UNLEASH_HOST', '127.0.0.1')}:${env('UNLEASH_PORT', '4242')}`,
  },
  // Open admin and client APIs: this server only ever listens on loopback for tests.
  authentication: { type: 'none', createAdminUser: false, enableApiToken: false },
  versionCheck: { enable: false },
  logLevel: env('UNLEASH_LOG_LEVEL', 'warn'),
});

// eslint-disable-next-line no-console
console.log(`[aviary] unleash-server ${unleash.version} listening on ${unleash.config.server.unleashUrl} (pid ${process.pid})`);

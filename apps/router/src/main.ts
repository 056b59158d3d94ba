import { loadConfigOrExit } from '@aviary/config';
import { loadRouterConfig } from './config/router.config';
import { consoleLog, startRouter } from './router';

async function main(): Promise<void> {
  const config = loadConfigOrExit(() => loadRouterConfig());
  const log = consoleLog(config.AVIARY_LOG_LEVEL);
  const router = await startRouter(config, { log });
  log(
    'info',
    `Aviary router listening on ${router.url} (OpenAI-compatible: ${router.url}/v1), flags from ${config.AVIARY_FLAGS_URL}, events to ${router.events.name}`,
  );
  const stop = () => {
    void router.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `router failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

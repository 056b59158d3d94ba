import { loadConfigOrExit, stopOnSignals } from '@aviary/config';
import { loadTracingConfig, startTracing } from '@aviary/observability';
import { loadRouterConfig } from './config/router.config';
import { configuredLog, startRouter } from './router';

async function main(): Promise<void> {
  const { config, tracingConfig } = loadConfigOrExit(() => ({
    config: loadRouterConfig(),
    tracingConfig: loadTracingConfig(),
  }));
  const log = configuredLog(config);
  // Before the router starts: it asks once, at start, whether tracing is on.
  const tracing = await startTracing(tracingConfig, { service: 'aviary-router' });
  const starting = startRouter(config, { log });
  stopOnSignals({
    stop: async () => {
      await (await starting.catch(() => null))?.close();
      await tracing.shutdown();
    },
  });
  const router = await starting;
  log(
    'info',
    `Aviary router listening on ${router.url} (OpenAI-compatible: ${router.url}/v1), flags from ${config.AVIARY_FLAGS_URL}, events to ${router.events.name}${tracing.enabled ? `, traces to ${tracingConfig.tracesUrl}` : ''}`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(
    `router failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

import { loadConfigOrExit, stopOnSignals } from '@aviary/config';
import { loadTracingConfig, startTracing } from '@aviary/observability';
import { loadControlPlaneConfig } from './config/control-plane.config';
import { readStoredAdminToken, startControlPlane } from './control-plane';

async function main(): Promise<void> {
  const { config, tracingConfig } = loadConfigOrExit(() => ({
    config: loadControlPlaneConfig(),
    tracingConfig: loadTracingConfig(),
  }));
  const tracing = await startTracing(tracingConfig, { service: 'aviary-control-plane' });
  const starting = startControlPlane(config);
  // Listening before anything is printed: a signal during start-up stops once start-up is done.
  stopOnSignals({
    stop: async () => {
      await (await starting.catch(() => null))?.close();
      await tracing.shutdown(); // the spans of the shutdown's last publishes included
    },
  });
  const cp = await starting;
  const lines = [
    `Aviary control plane listening on ${cp.url}`,
    `  admin API      ${cp.url}/api/v1`,
    `  API docs       ${cp.url}/api/docs`,
    `  health         ${cp.url}/healthz  ${cp.url}/readyz  ${cp.url}/metrics`,
    `  flags          ${config.unleash ? `Unleash at ${config.unleash.url}` : `built-in (${cp.url}/api/client/features)`}`,
    `  database       ${cp.embedded ? `embedded (PGlite) in ${config.database.dataDir}` : 'PostgreSQL (DATABASE_URL)'}`,
    `  traces         ${tracing.enabled ? `OTLP to ${tracingConfig.tracesUrl}` : 'off (OTEL_EXPORTER_OTLP_ENDPOINT)'}`,
  ];
  if (cp.generatedAdminToken) {
    lines.push(
      '',
      `  admin token    ${cp.generatedAdminToken}`,
      '                 (shown once' +
        (cp.embedded ? `; also saved to ${config.database.dataDir}/admin-token)` : '; store it now)'),
    );
  } else if (cp.embedded && !config.adminToken) {
    const stored = await readStoredAdminToken(config.database.dataDir);
    if (stored) lines.push('', `  admin token    ${stored}  (from ${config.database.dataDir}/admin-token)`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `control plane failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

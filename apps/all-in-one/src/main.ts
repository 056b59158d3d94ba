import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { envField, loadConfigOrExit, parseEnv, stopOnSignals } from '@aviary/config';
import { createLogger, loadTracingConfig, startTracing } from '@aviary/observability';
import { loadControlPlaneConfig, readStoredAdminToken } from '@aviary/control-plane';
import { loadRouterConfig, pinoLog } from '@aviary/router';
import { DEMO_MODEL, STATUS_LINK_TOKEN_NAME, startAllInOne } from './all-in-one';
import { type DemoTraffic, startDemoTraffic } from './demo-traffic';
import { type OwnPort, portInUseMessage } from './port-in-use';

const demoSchema = z.object({
  AVIARY_DEMO: envField.bool(true),
  AVIARY_DEMO_BASELINE_PORT: envField.port(8091),
  AVIARY_DEMO_CANDIDATE_PORT: envField.port(8092),
  /** Demo users' requests per second through the router (0: none). */
  AVIARY_DEMO_TRAFFIC: z.coerce.number().min(0).max(1000).default(20),
});

function persistentSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Notifications link to the status page: on one machine, this process's own address. */
function ownUrl(host: string, port: number): string | null {
  if (port === 0) return null;
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

/**
 * What to put in front of `npm run demo` or `npm run -s aviary` in another terminal so they find
 * this Aviary: nothing on the defaults (port 8080, .aviary in the checkout).
 */
function cliEnvFor(url: string, dataDir: string): string {
  const root = resolve(__dirname, '..', '..', '..', '..');
  const parts = [
    ...(url === 'http://127.0.0.1:8080' ? [] : [`AVIARY_URL=${url}`]),
    ...(resolve(dataDir) === join(root, '.aviary') ? [] : [`AVIARY_DATA_DIR=${resolve(dataDir)}`]),
  ];
  return parts.length > 0 ? `${parts.join(' ')} ` : '';
}

async function main(): Promise<void> {
  const { controlPlane, router, demo, tracingConfig } = loadConfigOrExit(() => {
    const cp = loadControlPlaneConfig();
    return {
      controlPlane: { ...cp, publicUrl: cp.publicUrl ?? ownUrl(cp.host, cp.port) },
      // The last known split and the request-id key live with the rest of the embedded data, so
      // feedback on answers given before a restart still resolves.
      router: loadRouterConfig({
        AVIARY_FLAGS_BACKUP_DIR: join(cp.database.dataDir, 'router-flags'),
        AVIARY_ROUTER_SECRET: persistentSecret(join(cp.database.dataDir, 'router-secret')),
        // The demo's traffic would bury the banner under access-log lines; on when asked for.
        AVIARY_ACCESS_LOG: 'off',
        // One machine, a demo: the router takes every client unless keys are asked for (the banner says so).
        AVIARY_ROUTER_AUTH: 'off',
        ...process.env,
      }),
      demo: parseEnv('demo', demoSchema, process.env),
      tracingConfig: loadTracingConfig(),
    };
  });
  // One process, one service: the router's and the control plane's spans share its name.
  const tracing = await startTracing(tracingConfig, { service: 'aviary' });
  // The router's and the analyzer's lines (the control plane has its own logger): pino, pretty in
  // `npm start`, JSON with AVIARY_LOG_FORMAT=json. The banner below stays plain text.
  const log = pinoLog(
    createLogger({ service: 'aviary', level: router.AVIARY_LOG_LEVEL, format: router.AVIARY_LOG_FORMAT }),
  );
  const starting = startAllInOne({
    controlPlane,
    router,
    demo: {
      enabled: demo.AVIARY_DEMO,
      baselinePort: demo.AVIARY_DEMO_BASELINE_PORT,
      candidatePort: demo.AVIARY_DEMO_CANDIDATE_PORT,
    },
    log,
  });
  // Listening before anything is printed: a Ctrl-C right after (or during) start-up still stops
  // once, gracefully, after start-up has finished.
  let traffic: DemoTraffic | null = null;
  let stopping = false;
  stopOnSignals({
    stop: async () => {
      stopping = true;
      const running = await starting.catch(() => null);
      await traffic?.stop();
      await running?.close();
      await tracing.shutdown();
    },
    log: (m) => process.stdout.write(`aviary: ${m}\n`),
  });
  const ports: OwnPort[] = [
    { port: controlPlane.port, what: 'the control plane', env: 'AVIARY_CONTROL_PLANE_PORT' },
    { port: router.AVIARY_ROUTER_PORT, what: 'the router', env: 'AVIARY_ROUTER_PORT' },
    ...(demo.AVIARY_DEMO
      ? [
          {
            port: demo.AVIARY_DEMO_BASELINE_PORT,
            what: 'the demo baseline model server',
            env: 'AVIARY_DEMO_BASELINE_PORT',
          },
          {
            port: demo.AVIARY_DEMO_CANDIDATE_PORT,
            what: 'the demo candidate model server',
            env: 'AVIARY_DEMO_CANDIDATE_PORT',
          },
        ]
      : []),
  ];
  const aio = await starting.catch((err: unknown) => {
    const message = portInUseMessage(err, ports);
    if (message === null) throw err;
    process.stderr.write(`Aviary could not start: ${message}\n`);
    process.exit(1);
  });
  const cp = aio.controlPlane;
  const token =
    cp.generatedAdminToken ??
    (cp.embedded && !controlPlane.adminToken
      ? await readStoredAdminToken(controlPlane.database.dataDir)
      : null);
  const cliEnv = cliEnvFor(cp.url, controlPlane.database.dataDir);
  const lines = [
    '',
    `Aviary is running (one process${cp.embedded && !controlPlane.unleash ? ', embedded defaults' : ''})`,
    `  status page    ${aio.statusLink}`,
    '                 (a viewer sign-in link, the same at every start: share it with your team;',
    `                  revoke API token ${STATUS_LINK_TOKEN_NAME} to end it, see README "Status page")`,
    `  control plane  ${cp.url}/api/v1      docs: ${cp.url}/api/docs`,
    `  router         ${aio.router.url}/v1   (OpenAI-compatible: point your client's base URL here)`,
    aio.demoKey
      ? `  router key     ${aio.demoKey}  (the demo's; make your own with POST /api/v1/router-keys)`
      : '  router auth    OFF: any client may call the router (AVIARY_ROUTER_AUTH=keys requires router keys)',
    `  metrics        ${cp.url}/metrics  ${aio.router.url}/metrics`,
    `  database       ${cp.embedded ? `embedded (PGlite) in ${controlPlane.database.dataDir}` : 'PostgreSQL (DATABASE_URL)'}`,
    controlPlane.unleash
      ? `  flags          Unleash at ${controlPlane.unleash.url} (project ${controlPlane.unleash.project}, environment ${controlPlane.unleash.environment}), polled every ${router.AVIARY_FLAGS_REFRESH_MS} ms`
      : `  flags          built-in, polled every ${router.AVIARY_FLAGS_REFRESH_MS} ms`,
    `  events         in-process`,
    `  traces         ${tracing.enabled ? `OTLP to ${tracingConfig.tracesUrl}` : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT to send them)'}`,
  ];
  if (aio.demo) {
    lines.push(
      `  demo upstreams baseline ${aio.demo.baseline.url}  candidate ${aio.demo.candidate.url}`,
      `                 switch the candidate: curl -X PUT ${aio.demo.candidate.origin}/admin/behaviour -d '{"preset":"refusesMore"}'`,
      '',
      `  try it:        curl -s ${aio.router.url}/v1/chat/completions -H 'content-type: application/json' \\`,
      ...(aio.demoKey ? [`                   -H 'authorization: Bearer ${aio.demoKey}' \\`] : []),
      `                   -d '{"model":"${DEMO_MODEL}","messages":[{"role":"user","content":"Hello"}],"user":"alice"}'`,
      demo.AVIARY_DEMO_TRAFFIC > 0
        ? `  demo traffic   ${demo.AVIARY_DEMO_TRAFFIC} requests/s from demo users (AVIARY_DEMO_TRAFFIC=0 turns it off)`
        : '  demo traffic   off (AVIARY_DEMO_TRAFFIC)',
      '',
      `  watch a rollout happen:  ${cliEnv}npm run demo     (in another terminal; see README "Demo")`,
    );
  }
  lines.push(
    `  on-call CLI:             ${cliEnv}npm run -s aviary -- get rollout ${DEMO_MODEL} --watch     (aviary --help)`,
  );
  if (cp.generatedAdminToken)
    lines.push(
      '',
      `  admin token    ${cp.generatedAdminToken}`,
      `                 (shown once; also saved to ${controlPlane.database.dataDir}/admin-token)`,
    );
  else if (token)
    lines.push('', `  admin token    ${token}  (from ${controlPlane.database.dataDir}/admin-token)`);
  process.stdout.write(`${lines.join('\n')}\n\n`);
  if (aio.demo && demo.AVIARY_DEMO_TRAFFIC > 0 && !stopping)
    traffic = startDemoTraffic(aio.router.url, DEMO_MODEL, demo.AVIARY_DEMO_TRAFFIC, aio.demoKey);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `Aviary failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

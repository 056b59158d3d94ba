// Runs one demo model server by hand:
//   DEMO_LLM_PORT=8090 DEMO_LLM_NAME=candidate DEMO_LLM_PRESET=refusesMore node dist/libs/demo-llm/src/main.js
// Optional: DEMO_LLM_HOST (127.0.0.1), DEMO_LLM_SEED (0), DEMO_LLM_API_KEY (unset = no auth),
// AVIARY_LOG_FORMAT (pretty; json for one JSON object per line, like the other Aviary processes).
// Switch behaviour while it runs: curl -X PUT localhost:8090/admin/behaviour -d '{"preset":"slower"}'
import { stopOnSignals } from '@aviary/config';
import { createLogger } from '@aviary/observability';
import { BEHAVIOURS, isBehaviourPreset } from './behaviour';
import { startDemoLlm } from './demo-llm';

function env(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = env(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

// A tool for a terminal: readable lines unless asked for JSON.
const logger = createLogger({
  service: 'demo-llm',
  level: 'info',
  format: env('AVIARY_LOG_FORMAT') === 'json' ? 'json' : 'pretty',
});

async function main(): Promise<void> {
  const port = intEnv('DEMO_LLM_PORT', 8090, 0, 65535);
  const seed = intEnv('DEMO_LLM_SEED', 0, 0, 0xffffffff);
  const name = env('DEMO_LLM_NAME') ?? 'demo';
  const preset = env('DEMO_LLM_PRESET') ?? 'fine';
  if (!isBehaviourPreset(preset)) {
    throw new RangeError(
      `DEMO_LLM_PRESET must be one of ${Object.keys(BEHAVIOURS).join(', ')}, got "${preset}"`,
    );
  }
  const apiKey = env('DEMO_LLM_API_KEY');
  const llm = await startDemoLlm({
    name,
    port,
    seed,
    host: env('DEMO_LLM_HOST') ?? '127.0.0.1',
    behaviour: BEHAVIOURS[preset],
    ...(apiKey === undefined ? {} : { apiKey }),
  });
  logger.info(
    { name, url: llm.url, preset },
    `demo-llm ${name}: ${llm.url} (preset ${preset}; admin at ${llm.origin}/admin/behaviour)`,
  );
  stopOnSignals({
    stop: () => llm.close(),
    log: (m) => logger.info(m),
  });
}

main().catch((err: unknown) => {
  logger.fatal(err instanceof Error ? err.message : String(err));
  logger.flush();
  process.exit(1);
});

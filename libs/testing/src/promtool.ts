import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Runs Prometheus' promtool (installed by scripts/services/promtool.sh; npm test runs it). */
export function promtool(
  args: string[],
  opts: { cwd?: string; input?: string } = {},
): SpawnSyncReturns<string> {
  const bin = process.env['AVIARY_TEST_PROMTOOL'] ?? '/usr/bin/promtool';
  if (!existsSync(bin))
    throw new Error(
      `promtool not found at ${bin}: run \`bash scripts/services/promtool.sh\` (npm test does)`,
    );
  return spawnSync(bin, args, { encoding: 'utf8', timeout: 60_000, ...opts });
}

/**
 * `promtool check metrics` on a /metrics exposition: the names and types Prometheus' own lint
 * accepts (counters end in _total and only counters do, base units, no abbreviations). Returns the
 * problems it prints, one per line (empty when clean).
 */
export function promtoolLintMetrics(exposition: string): string[] {
  const r = promtool(['check', 'metrics'], { input: exposition });
  if (r.error) throw r.error;
  return (r.stdout + r.stderr)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * prom-client's default Node.js metrics name three gauges `nodejs_active_*_total`; they are its
 * names (dashboards for Node apps use them), not ours, so they are the one lint finding allowed.
 */
export const PROM_CLIENT_DEFAULTS =
  /^aviary_\w+_nodejs_active_(handles|requests|resources)_total non-counter/;

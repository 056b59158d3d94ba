import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// The alert rules through Prometheus' own tool: they parse (`check rules`), and they fire on the
// series they are meant for and stay quiet otherwise (`test rules` with charts/aviary/ci/alerts-test.yaml).

const chart = join(__dirname, '..');

function promtool(args: string[]) {
  const bin = process.env['AVIARY_TEST_PROMTOOL'] ?? '/usr/bin/promtool';
  if (!existsSync(bin))
    throw new Error(
      `promtool not found at ${bin}: run \`bash scripts/services/promtool.sh\` (npm test does)`,
    );
  return spawnSync(bin, args, { cwd: chart, encoding: 'utf8', timeout: 60_000 });
}

describe('Prometheus alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', 'files/aviary-alerts.yaml']);
    expect(r.stdout + r.stderr).toContain('SUCCESS: 12 rules found');
    expect(r.status).toBe(0);
  });

  it('fire as their unit tests expect (promtool test rules)', () => {
    const r = promtool(['test', 'rules', 'ci/alerts-test.yaml']);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});

import { join } from 'node:path';
import { promtool as runPromtool } from '@aviary/testing';

// The alert rules through Prometheus' own tool: they parse (`check rules`), and they fire on the
// series they are meant for and stay quiet otherwise (`test rules` with charts/aviary/ci/alerts-test.yaml).

const chart = join(__dirname, '..');
const promtool = (args: string[]) => runPromtool(args, { cwd: chart });

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

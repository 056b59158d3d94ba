import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

// The dashboard and the alert rules query metrics by name; a renamed metric would leave a panel empty
// or an alert silent without any error. Every name they use must be one the apps register.

const root = join(__dirname, '..', '..', '..');
const files = join(root, 'charts', 'aviary', 'files');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$/.test(path) ? [path] : [];
  });
}

/** Metric names registered with prom-client in the apps (`name: 'aviary_…'`). */
function registeredMetrics(): Set<string> {
  const names = new Set<string>();
  for (const file of sources(join(root, 'apps')))
    for (const m of readFileSync(file, 'utf8').matchAll(/name: '(aviary_[a-z0-9_]+)'/g)) names.add(m[1]!);
  return names;
}

/** Metric names a PromQL expression uses (histogram series map to their histogram). */
function usedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\b(aviary_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}

function dashboardExpressions(): string[] {
  const dashboard = JSON.parse(readFileSync(join(files, 'grafana-dashboard.json'), 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    annotations: { list: { expr?: string }[] };
    templating: { list: { definition?: string }[] };
  };
  return [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...dashboard.annotations.list.flatMap((a) => (a.expr ? [a.expr] : [])),
    ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : [])),
  ];
}

function alertExpressions(): { alert: string; expr: string }[] {
  const rules = parse(readFileSync(join(files, 'aviary-alerts.yaml'), 'utf8')) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  return rules.groups.flatMap((g) => g.rules);
}

describe('dashboard and alert rules', () => {
  const registered = registeredMetrics();

  it('finds the metrics the apps register', () => {
    expect([...registered]).toEqual(
      expect.arrayContaining([
        'aviary_router_requests_total',
        'aviary_rollout_phase',
        'aviary_analyzer_events_total',
      ]),
    );
  });

  it('the dashboard queries only metrics Aviary exports', () => {
    const exprs = dashboardExpressions();
    expect(exprs.length).toBeGreaterThan(15);
    const unknown = exprs.flatMap(usedMetrics).filter((m) => !registered.has(m));
    expect(unknown).toEqual([]);
  });

  it('the alert rules query only metrics Aviary exports', () => {
    const rules = alertExpressions();
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'AviaryRolloutRolledBack',
        'AviaryRolloutStuckInconclusive',
        'AviaryRouterShedding',
        'AviaryEventsDropped',
        'AviaryFlagSourceUnreachable',
        'AviaryFlagChangedOutsideAviary',
        'AviaryRouterServingLastBaseline',
        'AviaryStableVersionRegressed',
      ]),
    );
    const unknown = rules
      .flatMap((r) => usedMetrics(r.expr).map((m) => `${r.alert}: ${m}`))
      .filter((x) => !registered.has(x.split(': ')[1]!));
    expect(unknown).toEqual([]);
  });

  it('the dashboard shows the rollout, per-version guardrail metrics, router saturation and event drops', () => {
    const all = dashboardExpressions().join('\n');
    for (const metric of [
      'aviary_rollout_phase',
      'aviary_rollout_candidate_weight_ratio',
      'aviary_router_refusals_total',
      'aviary_router_feedback_total',
      'aviary_router_errors_total',
      'aviary_router_request_duration_seconds_bucket',
      'aviary_router_time_to_first_token_seconds_bucket',
      'aviary_router_upstream_in_flight',
      'aviary_router_shed_total',
      'aviary_router_events_dropped_total',
    ])
      expect(all).toContain(metric);
  });
});

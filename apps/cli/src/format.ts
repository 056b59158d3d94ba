/** Plain-text rendering for people; `--json` prints the API's JSON instead. */
export interface RolloutView {
  id: string;
  model: { name: string };
  baseline: { label: string };
  candidate: { label: string };
  phase: string;
  step: {
    index: number;
    total: number;
    description: string | null;
    startedAt: string | null;
    minDurationElapsesAt: string | null;
  };
  split: { candidateWeight: number; shadowSampleRate: number | null };
  message: string | null;
}

export interface EventView {
  id: string;
  at: string;
  type: string;
  actor: string;
  automatic: boolean;
  message: string;
  reason: string | null;
}

export interface ModelView {
  name: string;
  stableVersion: { label: string } | null;
  versions: { label: string; status: string }[];
}

const ago = (iso: string | null, now = Date.now()): string => {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
};

export function splitText(r: RolloutView): string {
  if (r.split.shadowSampleRate !== null) return `shadow ${Math.round(r.split.shadowSampleRate * 100)}%`;
  return `${r.split.candidateWeight}% candidate`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function rolloutsTable(rollouts: readonly RolloutView[]): string {
  if (rollouts.length === 0) return 'no rollouts';
  return table([
    ['ROLLOUT', 'MODEL', 'CANDIDATE', 'PHASE', 'STEP', 'SPLIT', 'IN STEP'],
    ...rollouts.map((r) => [
      r.id,
      r.model.name,
      `${r.candidate.label} (vs ${r.baseline.label})`,
      r.phase,
      `${r.step.index + 1}/${r.step.total} ${r.step.description ?? ''}`.trim(),
      splitText(r),
      ago(r.step.startedAt),
    ]),
  ]);
}

export function rolloutDetail(r: RolloutView): string {
  const next = r.step.minDurationElapsesAt
    ? `${new Date(r.step.minDurationElapsesAt).toISOString()} at the earliest`
    : '-';
  return [
    `rollout   ${r.id}`,
    `model     ${r.model.name}: ${r.candidate.label} against ${r.baseline.label}`,
    `phase     ${r.phase}${r.message ? ` (${r.message})` : ''}`,
    `step      ${r.step.index + 1} of ${r.step.total}: ${r.step.description ?? '-'}, for ${ago(r.step.startedAt)}`,
    `split     ${splitText(r)}`,
    `next step ${next}`,
  ].join('\n');
}

export function eventsTable(events: readonly EventView[]): string {
  if (events.length === 0) return 'no events';
  return events
    .map(
      (e) =>
        `${e.at}  ${e.type.padEnd(15)} ${e.automatic ? 'auto' : e.actor}: ${e.message}${e.reason ? ` — "${e.reason}"` : ''}`,
    )
    .join('\n');
}

export function modelsTable(models: readonly ModelView[]): string {
  if (models.length === 0) return 'no models';
  return table([
    ['MODEL', 'STABLE', 'VERSIONS'],
    ...models.map((m) => [
      m.name,
      m.stableVersion?.label ?? '-',
      m.versions.map((v) => `${v.label} (${v.status})`).join(', '),
    ]),
  ]);
}

export interface RouterKeyView {
  id: string;
  name: string;
  prefix: string;
  models: string[] | null;
  requestsPerMinute: number | null;
  tokensPerDay: number | null;
  createdAt: string;
  revokedAt: string | null;
}

export function routerKeysTable(keys: readonly RouterKeyView[]): string {
  if (keys.length === 0) return 'no router keys';
  return table([
    ['NAME', 'ID', 'KEY', 'MODELS', 'REQ/MIN', 'TOKENS/DAY', 'STATE'],
    ...keys.map((k) => [
      k.name,
      k.id,
      `${k.prefix}…`,
      k.models?.join(', ') ?? 'all',
      k.requestsPerMinute === null ? '-' : String(k.requestsPerMinute),
      k.tokensPerDay === null ? '-' : String(k.tokensPerDay),
      k.revokedAt ? `revoked ${ago(k.revokedAt)} ago` : 'active',
    ]),
  ]);
}

import { describeDecision, describeStep, type PlanStep, type RolloutPlan } from '@aviary/domain';

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
  plan: RolloutPlan;
  message: string | null;
  /** On answers to actions that changed the split. */
  publication?: {
    publisher: string;
    revision: number;
    reachedFlagSource: boolean;
    failures: number;
    lastError: string | null;
  } | null;
  version: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface EventView {
  id: string;
  at: string;
  type: string;
  actor: string;
  automatic: boolean;
  message: string;
  reason: string | null;
  evidence: unknown;
}

export interface ModelView {
  name: string;
  stableVersion: { label: string } | null;
  versions: { label: string; status: string }[];
}

export interface AnalysisView {
  verdict: string;
  summary: string;
  candidateRole: 'shadow' | 'candidate';
  arms: { baseline: ArmView; candidate: ArmView };
  guardrails: { label: string; verdict: string; reason: string }[];
  shadow: {
    pairs: number;
    comparable: number;
    exactMatchRate: number | null;
    meanSimilarity: number | null;
  } | null;
  judge: { verdict: string; reason: string } | null;
  golden: { status: string; result: { verdict: string; summary: string } | null } | null;
}

interface ArmView {
  versionLabel: string;
  requests: number;
  errors: number;
}

/** How times are shown: local time (the TZ environment variable decides), or UTC with --utc. */
export interface TimeStyle {
  readonly utc: boolean;
  readonly now: number;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `2026-12-01 14:03:22` in local time (or UTC), to the second. */
export function clock(iso: string | null, t: TimeStyle): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const [y, mo, day, h, mi, s] = t.utc
    ? [
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
      ]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${y}-${pad2(mo)}-${pad2(day)} ${pad2(h)}:${pad2(mi)}:${pad2(s)}${t.utc ? 'Z' : ''}`;
}

/** A duration in the largest unit that reads well: 45s, 12m, 5h, 3d. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

/** "2026-12-01 14:03:22 (5m ago)" or "… (in 20s)". */
export function when(iso: string | null, t: TimeStyle): string {
  if (!iso) return '-';
  const delta = Date.parse(iso) - t.now;
  return `${clock(iso, t)} (${delta > 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`})`;
}

/** The first 8 characters of an id, enough to name it (any 4+ character prefix works). */
export const shortId = (id: string) => id.slice(0, 8);

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

export function rolloutsTable(rollouts: readonly RolloutView[], t: TimeStyle): string {
  if (rollouts.length === 0) return 'no rollouts';
  return table([
    ['ROLLOUT', 'MODEL', 'CANDIDATE', 'PHASE', 'STEP', 'SPLIT', 'IN STEP'],
    ...rollouts.map((r) => [
      shortId(r.id),
      r.model.name,
      `${r.candidate.label} (vs ${r.baseline.label})`,
      r.phase,
      `${r.step.index + 1}/${r.step.total} ${r.step.description ?? ''}`.trim(),
      splitText(r),
      r.step.startedAt && (r.phase === 'Progressing' || r.phase === 'Paused')
        ? duration(t.now - Date.parse(r.step.startedAt))
        : '-',
    ]),
  ]);
}

/** Whether the split reached the flag source: a kill switch answers at once, routers follow the flag. */
export function publicationText(p: NonNullable<RolloutView['publication']>): string {
  if (p.reachedFlagSource)
    return `published to ${p.publisher} (revision ${p.revision}); routers follow at their next poll`;
  const why = p.lastError ?? 'still publishing';
  return `NOT YET in ${p.publisher} (${why}); Aviary keeps retrying in the background and routers switch once it is through`;
}

/** A model's rollouts, newest first: how each one ended. */
export function historyTable(rollouts: readonly RolloutView[], t: TimeStyle): string {
  if (rollouts.length === 0) return 'no rollouts';
  return table([
    ['ROLLOUT', 'CANDIDATE', 'BASELINE', 'PHASE', 'REACHED', 'CREATED', 'BY', 'WHY'],
    ...rollouts.map((r) => [
      shortId(r.id),
      r.candidate.label,
      r.baseline.label,
      r.phase,
      r.step.index < 0 ? '-' : `${r.step.index + 1}/${r.step.total} ${r.step.description ?? ''}`.trim(),
      clock(r.createdAt, t),
      r.createdBy,
      cut(r.message ?? '', 60),
    ]),
  ]);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const label = (name: string) => `${name}:`.padEnd(12);

/** How long a step lasts at least: its minimum, or a timed pause's duration (0 for a gate). */
function minimumOf(step: PlanStep): number {
  return 'minDurationSeconds' in step ? step.minDurationSeconds : (step.durationSeconds ?? 0);
}

/** The step's progress deadline and what it does (the default plan: rolls back at twice the minimum). */
function deadlineOf(step: PlanStep): string {
  if (step.maxDurationSeconds === undefined) return '';
  const act = step.onDeadline === 'rollback' ? 'rolls back' : 'holds and says so';
  const grace =
    step.onDeadline === 'rollback' && (step.deadlineGraceSeconds ?? 0) > 0
      ? ` (up to ${duration((step.deadlineGraceSeconds ?? 0) * 1000)} later while on track to decide)`
      : '';
  return `, ${act} if undecided after ${duration(step.maxDurationSeconds * 1000)}${grace}`;
}

/** The rollout's steps, kubectl-argo-rollouts style: ✔ done, ► current (✖ where it stopped). */
function stepList(r: RolloutView): string[] {
  return r.plan.steps.map((step, i) => {
    const describe = r.step.index === i ? r.step.description : null;
    // describeStep knows today's step types; a newer server's are shown by their type.
    const described: string | undefined = describeStep(step);
    const text = describe ?? described ?? step.type;
    const mark =
      i < r.step.index || (r.phase === 'Healthy' && i <= r.step.index)
        ? '✔'
        : i === r.step.index
          ? r.phase === 'RolledBack'
            ? '✖'
            : '►'
          : ' ';
    return `  ${mark} ${String(i + 1).padStart(2)}  ${text}${minimumOf(step) ? `, at least ${duration(minimumOf(step) * 1000)}` : ''}${deadlineOf(step)}`;
  });
}

/** The multi-line view of `get rollout`: where it stands, its steps, the analysis and recent decisions. */
export function rolloutView(
  r: RolloutView,
  t: TimeStyle,
  extra: { analysis?: AnalysisView | null; events?: readonly EventView[] } = {},
): string {
  const running = r.phase === 'Progressing' || r.phase === 'Paused';
  const lines = [
    `${label('Rollout')}${r.id}`,
    `${label('Model')}${r.model.name}: ${r.candidate.label} against ${r.baseline.label}`,
    `${label('Phase')}${r.phase}${r.message ? ` — ${r.message}` : ''}`,
    `${label('Step')}${r.step.index < 0 ? 'not started' : `${r.step.index + 1} of ${r.step.total}: ${r.step.description ?? '-'}`}${running && r.step.startedAt ? `, since ${when(r.step.startedAt, t)}` : ''}`,
    `${label('Split')}${splitText(r)}`,
    ...(r.publication ? [`${label('Flags')}${publicationText(r.publication)}`] : []),
  ];
  if (r.phase === 'Progressing')
    lines.push(
      `${label('Next step')}${r.step.minDurationElapsesAt ? `${when(r.step.minDurationElapsesAt, t)} at the earliest, when the analysis allows` : '-'}`,
    );
  lines.push(
    `${label('Created')}${when(r.createdAt, t)} by ${r.createdBy}`,
    `${label('Steps')}`,
    ...stepList(r),
  );
  if (extra.analysis) lines.push(...analysisLines(extra.analysis));
  if (extra.events && extra.events.length > 0) {
    lines.push(`${label('Decisions')}(latest last; \`aviary events ${shortId(r.id)}\` for all)`);
    lines.push(...extra.events.slice(-5).map((e) => `  ${eventLine(e, r.plan, t)}`));
  }
  return lines.join('\n');
}

/** The analysis one guardrail per line, instead of its one-line summary. */
export function analysisLines(a: AnalysisView): string[] {
  const arm = a.candidateRole === 'shadow' ? 'shadow' : 'candidate';
  const lines = [
    `${label('Analysis')}${a.verdict} — ${arm} vs baseline: ${a.arms.candidate.requests} vs ${a.arms.baseline.requests} requests`,
  ];
  const width = Math.max(0, ...a.guardrails.map((g) => g.verdict.length));
  for (const g of a.guardrails) lines.push(`  ${g.verdict.padEnd(width)}  ${g.reason}`);
  if (a.shadow)
    lines.push(
      `  shadow pairs ${a.shadow.pairs} (${a.shadow.comparable} comparable)` +
        (a.shadow.exactMatchRate !== null ? `, exact match ${pct(a.shadow.exactMatchRate)}` : '') +
        (a.shadow.meanSimilarity !== null ? `, mean similarity ${a.shadow.meanSimilarity.toFixed(2)}` : ''),
    );
  if (a.judge) lines.push(`  judge: ${a.judge.reason}`);
  if (a.golden)
    lines.push(
      `  golden set: ${a.golden.result ? a.golden.result.summary : 'running against both versions'}`,
    );
  return lines;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function eventLine(e: EventView, plan: RolloutPlan, t: TimeStyle): string {
  const headline = describeDecision(e, plan).headline;
  return `${clock(e.at, t)}  ${e.type.padEnd(15)} ${headline}`;
}

/** The decision log, one line per decision in plain words; --detail adds the technical summary. */
export function eventsTable(
  events: readonly EventView[],
  plan: RolloutPlan,
  t: TimeStyle,
  detail = false,
): string {
  if (events.length === 0) return 'no events';
  return events
    .map((e) => {
      const line = eventLine(e, plan, t);
      return detail && e.message ? `${line}\n${' '.repeat(37)}${e.message}` : line;
    })
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
  /** What the routers reported for the key today (UTC), all of them together. */
  usedToday?: { day: string; tokens: number; requests: number };
}

export function routerKeysTable(keys: readonly RouterKeyView[], t: TimeStyle): string {
  if (keys.length === 0) return 'no router keys';
  return table([
    ['NAME', 'ID', 'KEY', 'MODELS', 'REQ/MIN', 'TOKENS/DAY', 'USED TODAY', 'STATE'],
    ...keys.map((k) => [
      k.name,
      k.id,
      `${k.prefix}…`,
      k.models?.join(', ') ?? 'all',
      k.requestsPerMinute === null ? '-' : String(k.requestsPerMinute),
      k.tokensPerDay === null ? '-' : String(k.tokensPerDay),
      usedToday(k),
      k.revokedAt ? `revoked ${when(k.revokedAt, t)}` : 'active',
    ]),
  ]);
}

/** Tokens used today (UTC), with the share of the budget: `1,200 (60%)`. */
function usedToday(k: RouterKeyView): string {
  if (!k.usedToday) return '-';
  const used = k.usedToday.tokens.toLocaleString('en-US');
  if (k.tokensPerDay === null) return used;
  return `${used} (${Math.round((100 * k.usedToday.tokens) / k.tokensPerDay)}%)`;
}

export interface TokenView {
  id: string;
  name: string;
  role: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function tokensTable(tokens: readonly TokenView[], t: TimeStyle): string {
  if (tokens.length === 0) return 'no API tokens';
  return table([
    ['NAME', 'ID', 'ROLE', 'TOKEN', 'LAST USED', 'STATE'],
    ...tokens.map((k) => [
      k.name,
      k.id,
      k.role,
      `${k.prefix}…`,
      k.lastUsedAt ? when(k.lastUsedAt, t) : '-',
      k.revokedAt ? `revoked ${when(k.revokedAt, t)}` : 'active',
    ]),
  ]);
}

/** GET /api/v1/models/{model}/versions/{a}/diff/{b}. */
export interface VersionDiffView {
  from: string;
  to: string;
  identical: boolean;
  changes: { field: string; from: unknown; to: unknown }[];
  systemPrompt: { op: ' ' | '+' | '-'; text: string }[] | null;
}

/** Like `diff -u` for people: the settings that changed, then the system prompt's lines. */
export function versionDiffText(model: string, d: VersionDiffView): string {
  if (d.identical) return `${model}: ${d.from} and ${d.to} send the same requests to the same place`;
  const show = (v: unknown) => (v === null || v === undefined ? '(not set)' : JSON.stringify(v));
  const lines = [`--- ${model} ${d.from}`, `+++ ${model} ${d.to}`];
  if (d.changes.length > 0) {
    const width = Math.max(...d.changes.map((c) => c.field.length));
    for (const c of d.changes) lines.push(`  ${c.field.padEnd(width)}  ${show(c.from)} -> ${show(c.to)}`);
  }
  if (d.systemPrompt) {
    lines.push('system prompt:');
    for (const l of d.systemPrompt) lines.push(`${l.op} ${l.text}`.trimEnd());
  } else lines.push('system prompt: unchanged');
  return lines.join('\n');
}

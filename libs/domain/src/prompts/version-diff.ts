import { type DecodingParameters } from './version-prompt';

/** One line of a line diff: kept (' '), only in the second text ('+'), only in the first ('-'). */
export interface DiffLine {
  readonly op: ' ' | '+' | '-';
  readonly text: string;
}

/** Longest-common-subsequence table is O(n·m): above this many line pairs, fall back to replace-all. */
const MAX_LCS_CELLS = 4_000_000;

/**
 * A line diff of two texts (LCS, like `diff`): removals before additions where lines changed. Prompts
 * are at most a few hundred lines, so the quadratic table is small; beyond MAX_LCS_CELLS the diff is
 * "every line removed, every line added", still correct, only less minimal.
 */
export function diffLines(a: string, b: string): DiffLine[] {
  const x = a === '' ? [] : a.split('\n');
  const y = b === '' ? [] : b.split('\n');
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--;
    endY--;
  }
  const head: DiffLine[] = x.slice(0, start).map((text) => ({ op: ' ', text }));
  const tail: DiffLine[] = x.slice(endX).map((text) => ({ op: ' ', text }));
  const xs = x.slice(start, endX);
  const ys = y.slice(start, endY);
  const n = xs.length;
  const m = ys.length;
  if (n * m > MAX_LCS_CELLS) {
    return [
      ...head,
      ...xs.map((text): DiffLine => ({ op: '-', text })),
      ...ys.map((text): DiffLine => ({ op: '+', text })),
      ...tail,
    ];
  }
  // lcs[i][j]: length of the LCS of xs[i..] and ys[j..], flattened row-major.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i * w + j] =
        xs[i] === ys[j]
          ? lcs[(i + 1) * w + j + 1]! + 1
          : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
  const middle: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) {
      middle.push({ op: ' ', text: xs[i]! });
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) middle.push({ op: '-', text: xs[i++]! });
    else middle.push({ op: '+', text: ys[j++]! });
  }
  while (i < n) middle.push({ op: '-', text: xs[i++]! });
  while (j < m) middle.push({ op: '+', text: ys[j++]! });
  return [...head, ...middle, ...tail];
}

/** What a diff compares of a version: where it sends requests, and what it sends with them. */
export interface VersionForDiff {
  readonly label: string;
  readonly upstreamBaseUrl: string;
  readonly upstreamModel: string;
  readonly timeoutMs: number;
  readonly apiKeyRef: string | null;
  readonly endpoints: readonly string[] | null;
  readonly maxResponseBytes: number | null;
  readonly totalTimeoutMs: number | null;
  readonly systemPrompt: string | null;
  readonly promptVariables: Readonly<Record<string, string>>;
  readonly defaultParameters: DecodingParameters;
  readonly enforcedParameters: DecodingParameters;
}

export interface FieldChange {
  /** e.g. `upstreamModel`, `defaultParameters.temperature`, `promptVariables.tone`. */
  readonly field: string;
  /** null: not set on that version. */
  readonly from: unknown;
  readonly to: unknown;
}

export interface VersionDiff {
  readonly from: string;
  readonly to: string;
  /** Nothing a request would notice differs. */
  readonly identical: boolean;
  /** Every differing field except the prompt's text, in a stable order. */
  readonly changes: readonly FieldChange[];
  /** The system prompt as a line diff; null when both versions have the same one (or none). */
  readonly systemPrompt: readonly DiffLine[] | null;
}

const SETTINGS = [
  'upstreamBaseUrl',
  'upstreamModel',
  'timeoutMs',
  'apiKeyRef',
  'endpoints',
  'maxResponseBytes',
  'totalTimeoutMs',
] as const;
const MAPS = ['promptVariables', 'defaultParameters', 'enforcedParameters'] as const;

/** What changes for a request served by `b` instead of `a`. */
export function diffVersions(a: VersionForDiff, b: VersionForDiff): VersionDiff {
  const changes: FieldChange[] = [];
  for (const field of SETTINGS) {
    if (!sameValue(a[field], b[field])) changes.push({ field, from: a[field], to: b[field] });
  }
  for (const map of MAPS) {
    const x = a[map] as Readonly<Record<string, unknown>>;
    const y = b[map] as Readonly<Record<string, unknown>>;
    const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
    for (const key of keys) {
      const from = x[key] ?? null;
      const to = y[key] ?? null;
      if (!sameValue(from, to)) changes.push({ field: `${map}.${key}`, from, to });
    }
  }
  const promptA = a.systemPrompt ?? '';
  const promptB = b.systemPrompt ?? '';
  const systemPrompt = promptA === promptB ? null : diffLines(promptA, promptB);
  return {
    from: a.label,
    to: b.label,
    identical: changes.length === 0 && systemPrompt === null,
    changes,
    systemPrompt,
  };
}

function sameValue(x: unknown, y: unknown): boolean {
  return JSON.stringify(x ?? null) === JSON.stringify(y ?? null);
}

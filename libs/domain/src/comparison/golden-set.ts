import { textSimilarity, normalizeAnswer } from './pair-comparison';
import type { RefusalDetector } from './refusal-detector';

/**
 * The offline check before any traffic (the seed: a golden set must match or beat the old model, an
 * edge-case set must show no new failures). One JSON object per line:
 *
 *   {"id":"reset","messages":[{"role":"user","content":"How do I reset my password?"}],
 *    "mustContain":["settings"],"edgeCase":false}
 *
 * Grading rules (all optional, all must hold): `expected` (the answer matches it: same text after
 * normalising, or word-bigram similarity ≥ `minSimilarity`, default 0.8), `mustContain` /
 * `mustNotContain` (case-insensitive substrings), `json` (the answer parses as JSON; the request
 * asks for a JSON object), `refusal` ("forbidden", the default: the answer must not be a refusal;
 * "expected": it must be one, for requests a model should decline).
 */
export interface GoldenItem {
  readonly id: string;
  readonly messages: readonly { readonly role: string; readonly content: string }[];
  readonly expected?: string;
  readonly minSimilarity?: number;
  readonly mustContain?: readonly string[];
  readonly mustNotContain?: readonly string[];
  readonly json?: boolean;
  readonly refusal?: 'forbidden' | 'expected' | 'any';
  /** An edge case: the candidate must not fail one the baseline passes, whatever the totals. */
  readonly edgeCase?: boolean;
}

export interface GoldenSetIssue {
  /** e.g. `goldenSet[3].messages` (line 3). */
  readonly field: string;
  readonly message: string;
}

export const MAX_GOLDEN_ITEMS = 1000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Parses JSONL; every problem is reported with its line, nothing is silently dropped. */
export function parseGoldenSet(jsonl: string): { items: GoldenItem[]; issues: GoldenSetIssue[] } {
  const items: GoldenItem[] = [];
  const issues: GoldenSetIssue[] = [];
  const ids = new Set<string>();
  const lines = jsonl.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const at = (field?: string) => `goldenSet[${i + 1}]${field ? `.${field}` : ''}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      issues.push({ field: at(), message: 'is not valid JSON' });
      return;
    }
    if (!isObject(v)) return void issues.push({ field: at(), message: 'must be a JSON object' });
    const id = typeof v['id'] === 'string' && v['id'].length > 0 ? v['id'] : `line-${i + 1}`;
    if (ids.has(id)) issues.push({ field: at('id'), message: `duplicates id ${JSON.stringify(id)}` });
    ids.add(id);
    const messages = v['messages'];
    if (
      !Array.isArray(messages) ||
      messages.length === 0 ||
      !messages.every((m) => isObject(m) && typeof m['role'] === 'string' && typeof m['content'] === 'string')
    ) {
      issues.push({ field: at('messages'), message: 'must be a non-empty array of {role, content} strings' });
      return;
    }
    const item: Record<string, unknown> = { id, messages };
    const check = (key: string, ok: (x: unknown) => boolean, message: string) => {
      if (v[key] === undefined) return;
      if (ok(v[key])) item[key] = v[key];
      else issues.push({ field: at(key), message });
    };
    check('expected', (x) => typeof x === 'string', 'must be a string');
    check('minSimilarity', (x) => typeof x === 'number' && x >= 0 && x <= 1, 'must be a number from 0 to 1');
    check('mustContain', isStringArray, 'must be an array of strings');
    check('mustNotContain', isStringArray, 'must be an array of strings');
    check('json', (x) => typeof x === 'boolean', 'must be a boolean');
    check(
      'refusal',
      (x) => x === 'forbidden' || x === 'expected' || x === 'any',
      'must be forbidden, expected or any',
    );
    check('edgeCase', (x) => typeof x === 'boolean', 'must be a boolean');
    items.push(item as unknown as GoldenItem);
  });
  if (items.length === 0 && issues.length === 0) issues.push({ field: 'goldenSet', message: 'has no items' });
  if (items.length > MAX_GOLDEN_ITEMS)
    issues.push({ field: 'goldenSet', message: `has ${items.length} items; at most ${MAX_GOLDEN_ITEMS}` });
  return { items, issues };
}

export interface GoldenGrade {
  readonly id: string;
  readonly passed: boolean;
  /** Why it failed, in words. */
  readonly failures: readonly string[];
}

/** Grades one answer (null: the call failed) against its item's rules. */
export function gradeAnswer(item: GoldenItem, answer: string | null, refusals: RefusalDetector): GoldenGrade {
  if (answer === null) return { id: item.id, passed: false, failures: ['no answer (the call failed)'] };
  const failures: string[] = [];
  const lower = answer.toLowerCase();
  if (item.expected !== undefined) {
    const exact = normalizeAnswer(answer) === normalizeAnswer(item.expected);
    const similarity = exact ? 1 : textSimilarity(answer, item.expected);
    const min = item.minSimilarity ?? 0.8;
    if (similarity < min)
      failures.push(`differs from the expected answer (similarity ${similarity.toFixed(2)} < ${min})`);
  }
  for (const s of item.mustContain ?? []) if (!lower.includes(s.toLowerCase())) failures.push(`lacks "${s}"`);
  for (const s of item.mustNotContain ?? [])
    if (lower.includes(s.toLowerCase())) failures.push(`contains "${s}"`);
  if (item.json) {
    try {
      JSON.parse(answer);
    } catch {
      failures.push('is not valid JSON');
    }
  }
  const refused = refusals.isRefusal(answer);
  const rule = item.refusal ?? 'forbidden';
  if (rule === 'forbidden' && refused) failures.push('refuses');
  if (rule === 'expected' && !refused) failures.push('does not refuse');
  return { id: item.id, passed: failures.length === 0, failures };
}

export interface GoldenComparison {
  readonly verdict: 'Successful' | 'Failed';
  readonly total: number;
  readonly baselinePassed: number;
  readonly candidatePassed: number;
  /** Items the baseline passed and the candidate failed. */
  readonly regressions: readonly {
    readonly id: string;
    readonly edgeCase: boolean;
    readonly failures: readonly string[];
  }[];
  readonly summary: string;
}

/** The candidate must match or beat the baseline overall, and must not fail an edge case the baseline passes. */
export function compareGolden(
  items: readonly GoldenItem[],
  baseline: readonly GoldenGrade[],
  candidate: readonly GoldenGrade[],
): GoldenComparison {
  const byId = (grades: readonly GoldenGrade[]) => new Map(grades.map((g) => [g.id, g]));
  const b = byId(baseline);
  const c = byId(candidate);
  const regressions = items.flatMap((item) => {
    const bg = b.get(item.id);
    const cg = c.get(item.id);
    return bg?.passed && cg && !cg.passed
      ? [{ id: item.id, edgeCase: item.edgeCase === true, failures: cg.failures }]
      : [];
  });
  const baselinePassed = baseline.filter((g) => g.passed).length;
  const candidatePassed = candidate.filter((g) => g.passed).length;
  const edgeRegressions = regressions.filter((r) => r.edgeCase);
  const failed = candidatePassed < baselinePassed || edgeRegressions.length > 0;
  const head = `golden set: candidate passed ${candidatePassed}/${items.length}, baseline ${baselinePassed}/${items.length}`;
  const why = failed
    ? edgeRegressions.length > 0
      ? `: new failure on edge case ${edgeRegressions.map((r) => `${r.id} (${r.failures.join(', ')})`).join('; ')}`
      : `: worse than the baseline${regressions.length > 0 ? `, e.g. ${regressions[0]!.id} ${regressions[0]!.failures.join(', ')}` : ''}`
    : ': matches or beats the baseline';
  return {
    verdict: failed ? 'Failed' : 'Successful',
    total: items.length,
    baselinePassed,
    candidatePassed,
    regressions,
    summary: head + why,
  };
}

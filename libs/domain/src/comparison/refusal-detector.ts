/**
 * Default refusal phrasings: the openings assistants use when they decline. Matched against the
 * start of the answer, where refusals live; a helpful answer that later says "I can't guarantee"
 * should not count.
 */
export const DEFAULT_REFUSAL_PATTERNS: readonly string[] = [
  "^\\W*(i'?m|i am) (so |very |really )?sorry,? (but )?(i|i'm|i am) (can(no|')t|cannot|won'?t|am unable|am not able|'m unable|'m not able)",
  "^\\W*(i'?m|i am) sorry,? but",
  "^\\W*i (can(no|')?t|cannot|won'?t|will not|am unable to|am not able to|must decline to|must refuse to) (help|assist|provide|do|comply|answer|fulfill|complete|share|engage|continue|create|write|generate)",
  "^\\W*(unfortunately|regrettably),? (i|i'm|i am) (can(no|')?t|cannot|unable|not able)",
  "^\\W*as an ai( language model)?,? i (can(no|')?t|cannot|don'?t|am not able|am unable)",
  "^\\W*i('m| am) not able to (help|assist|provide|comply)",
  '^\\W*(sorry|apologies),? (but )?(i|that)',
  '^\\W*i (must|have to) (decline|refuse)',
  "^\\W*that('s| is) not something i can (help|assist|do)",
];

/** Only the first part of an answer is inspected: refusals open with the refusal. */
const HEAD_CHARS = 300;

export class RefusalDetector {
  private readonly patterns: readonly RegExp[];

  constructor(patterns: readonly string[] = DEFAULT_REFUSAL_PATTERNS) {
    this.patterns = patterns.map((p) => new RegExp(p, 'i'));
  }

  /** Patterns from AVIARY_REFUSAL_PATTERNS (one per line), or the defaults. Invalid regexes throw at boot. */
  static fromEnv(value: string | undefined): RefusalDetector {
    if (!value) return new RefusalDetector();
    const lines = value
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith('#'));
    return new RefusalDetector(lines);
  }

  isRefusal(text: string): boolean {
    const head = text
      .slice(0, HEAD_CHARS)
      .replace(/[\u2018\u2019]/g, "'")
      .trimStart();
    return this.patterns.some((p) => p.test(head));
  }
}

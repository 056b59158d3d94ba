/**
 * How a shadow's answer compares with the baseline's answer to the same request. Cheap, deterministic
 * measures the analyzer can compute for every captured pair; an LLM judge (sampled, budgeted) is a
 * separate, optional signal.
 */
export interface PairSideSummary {
  /** The answer text, or null when that side failed (error / no usable answer). */
  readonly output: string | null;
  readonly refusal: boolean;
  readonly invalidJson: boolean;
}

export interface PairComparison {
  /** Both sides answered: the text measures below are meaningful. */
  readonly comparable: boolean;
  /** Same text after normalising case and whitespace. */
  readonly exactMatch: boolean;
  /** 0-1: Dice coefficient over word bigrams (1 = same words in the same order); null if not comparable. */
  readonly similarity: number | null;
  /** Shadow length / baseline length (characters), capped at 10; null if not comparable. */
  readonly lengthRatio: number | null;
  readonly shadowOnlyRefusal: boolean;
  readonly baselineOnlyRefusal: boolean;
}

const MAX_LENGTH_RATIO = 10;

export function normalizeAnswer(text: string): string {
  return text.toLowerCase().replace(/\s+/g, ' ').trim();
}

function words(text: string): string[] {
  return normalizeAnswer(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0);
}

/** Multiset of adjacent word pairs (single words for one-word answers). */
function bigrams(text: string): Map<string, number> {
  const w = words(text);
  const grams = new Map<string, number>();
  if (w.length === 1) grams.set(w[0] as string, 1);
  for (let i = 0; i + 1 < w.length; i++) {
    const g = `${w[i]} ${w[i + 1]}`;
    grams.set(g, (grams.get(g) ?? 0) + 1);
  }
  return grams;
}

/** Sørensen–Dice over word bigrams: robust to small edits, order-aware, linear time. */
export function textSimilarity(a: string, b: string): number {
  const ga = bigrams(a);
  const gb = bigrams(b);
  let sizeA = 0;
  let sizeB = 0;
  let overlap = 0;
  for (const n of ga.values()) sizeA += n;
  for (const [g, n] of gb) {
    sizeB += n;
    overlap += Math.min(n, ga.get(g) ?? 0);
  }
  if (sizeA === 0 && sizeB === 0) return 1; // both empty (or no words at all)
  return (2 * overlap) / (sizeA + sizeB);
}

/**
 * `measured`: a similarity the router measured because the texts are not the answer (embeddings: the
 * cosine of the vectors); it replaces the text measures, and equal vectors count as an exact match.
 */
export function comparePair(
  baseline: PairSideSummary,
  shadow: PairSideSummary,
  measured?: number | null,
): PairComparison {
  const b = baseline.output;
  const s = shadow.output;
  const comparable = b !== null && s !== null;
  const shadowOnlyRefusal = comparable && shadow.refusal && !baseline.refusal;
  const baselineOnlyRefusal = comparable && baseline.refusal && !shadow.refusal;
  if (b === null || s === null) {
    return {
      comparable,
      exactMatch: false,
      similarity: null,
      lengthRatio: null,
      shadowOnlyRefusal,
      baselineOnlyRefusal,
    };
  }
  if (measured !== undefined && measured !== null)
    return {
      comparable,
      exactMatch: measured >= 1 - 1e-6,
      similarity: measured,
      lengthRatio: 1,
      shadowOnlyRefusal,
      baselineOnlyRefusal,
    };
  const exactMatch = normalizeAnswer(b) === normalizeAnswer(s);
  return {
    comparable,
    exactMatch,
    similarity: exactMatch ? 1 : textSimilarity(b, s),
    lengthRatio: Math.min(
      MAX_LENGTH_RATIO,
      b.length === 0 ? (s.length === 0 ? 1 : MAX_LENGTH_RATIO) : s.length / b.length,
    ),
    shadowOnlyRefusal,
    baselineOnlyRefusal,
  };
}

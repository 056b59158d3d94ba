/**
 * How a demo model server misbehaves. Every rate is a probability in [0, 1], drawn independently per
 * request in a fixed order (connection drop, hang, error, refusal, empty, broken JSON), so each rate is
 * conditional on the earlier faults not having happened: with only `refusalRate: 0.5` set, half the
 * answers are refusals; with `errorRate: 0.3` as well, half of the answered (non-error) requests are.
 */
export interface Behaviour {
  /** Share of answers that are a refusal ("I'm sorry, but I can't help with that request."). */
  refusalRate: number;
  /** Share of requests answered 500 with an OpenAI-style error body. */
  errorRate: number;
  /** Share of answers with empty content. */
  emptyRate: number;
  /** Share of answers to JSON-mode requests (response_format json_object / json_schema) that are invalid JSON. */
  brokenJsonRate: number;
  /** Added before the first byte of the response. */
  latencyMs: number;
  /** Uniform ±jitter around latencyMs (never below 0). */
  latencyJitterMs: number;
  /** Streaming pace; 0 or undefined = as fast as possible. */
  tokensPerSecond?: number;
  /** Share of requests never answered (the socket stays open): for timeout tests. */
  hangRate?: number;
  /** Share of requests whose socket is destroyed without any response. */
  connectionDropRate?: number;
  /** Scales how many sentences an answer has (1 = normal, 0.4 = terse); for output-length guardrails. */
  lengthFactor?: number;
  /** Answers (not JSON ones) padded with filler words to at least this many characters: huge answers. */
  padToChars?: number;
  /** A non-streamed answer is written in 16 slices this far apart: a body that keeps dripping. */
  dripIntervalMs?: number;
  /** Streams framed with CRLF line endings (allowed by the SSE spec, sent by some gateways). */
  sseCrlf?: boolean;
  /** Share of tool-call answers that are broken: arguments cut off, or a call to a tool not offered. */
  badToolCallRate?: number;
  /** Share of json_schema answers that are valid JSON but do not match the schema. */
  schemaViolationRate?: number;
  /** Streams: this long between chunks, whatever their size (overrides tokensPerSecond); 0 = off. */
  chunkIntervalMs?: number;
  /** Streams: the answer in exactly this many content chunks (0 = a few words each). */
  streamChunks?: number;
  /** How far this server's embeddings stray from the shared direction (cosine ≈ 1/√(1+drift²)). */
  embeddingDrift?: number;
}

/** A behaviour with every optional field filled in, as the server holds it. */
export type FullBehaviour = Required<Behaviour>;

const FINE: FullBehaviour = Object.freeze({
  refusalRate: 0,
  errorRate: 0,
  emptyRate: 0,
  brokenJsonRate: 0,
  latencyMs: 0,
  latencyJitterMs: 0,
  tokensPerSecond: 0,
  hangRate: 0,
  connectionDropRate: 0,
  lengthFactor: 1,
  padToChars: 0,
  dripIntervalMs: 0,
  sseCrlf: false,
  badToolCallRate: 0,
  schemaViolationRate: 0,
  embeddingDrift: 0.05,
  chunkIntervalMs: 0,
  streamChunks: 0,
});

const preset = (overrides: Partial<FullBehaviour>): Readonly<FullBehaviour> =>
  Object.freeze({ ...FINE, ...overrides });

/**
 * Named behaviours. Each is complete (every field set), so `setBehaviour(BEHAVIOURS.x)` or
 * `{"preset":"x"}` replaces the whole behaviour rather than merging into the previous one.
 */
export const BEHAVIOURS = Object.freeze({
  /** No faults, no latency: the default, and what tests and benchmarks want. */
  fine: preset({}),
  /** A plausible production model: a few refusals and failures, ~120 ms to first byte, streamed at 80 tok/s. */
  typical: preset({
    refusalRate: 0.03,
    errorRate: 0.005,
    emptyRate: 0.01,
    brokenJsonRate: 0.01,
    latencyMs: 120,
    latencyJitterMs: 60,
    tokensPerSecond: 80,
  }),
  refusesMore: preset({ refusalRate: 0.5 }),
  slower: preset({ latencyMs: 800 }),
  errors: preset({ errorRate: 0.3 }),
  brokenJson: preset({ brokenJsonRate: 0.5 }),
  empty: preset({ emptyRate: 0.3 }),
  /** Answers about 60% shorter. */
  terse: preset({ lengthFactor: 0.4 }),
  slowStream: preset({ tokensPerSecond: 20 }),
  hangs: preset({ hangRate: 1 }),
  dropsConnections: preset({ connectionDropRate: 0.3 }),
} satisfies Record<string, Readonly<FullBehaviour>>);

export type BehaviourPreset = keyof typeof BEHAVIOURS;

export function isBehaviourPreset(name: string): name is BehaviourPreset {
  return Object.prototype.hasOwnProperty.call(BEHAVIOURS, name);
}

/** An invalid behaviour update; `param` names the offending field (OpenAI error style). */
export class BehaviourError extends RangeError {
  constructor(
    message: string,
    readonly param: string | null,
  ) {
    super(message);
    this.name = 'BehaviourError';
  }
}

type Field = keyof FullBehaviour;
type NumericField = { [K in Field]: FullBehaviour[K] extends number ? K : never }[Field];
type FlagField = Exclude<Field, NumericField>;
const FLAGS: ReadonlySet<string> = new Set<FlagField>(['sseCrlf']);
/** Valid range per numeric field, inclusive. */
const RANGES: Readonly<Record<NumericField, readonly [number, number]>> = {
  refusalRate: [0, 1],
  errorRate: [0, 1],
  emptyRate: [0, 1],
  brokenJsonRate: [0, 1],
  hangRate: [0, 1],
  connectionDropRate: [0, 1],
  latencyMs: [0, 3_600_000],
  latencyJitterMs: [0, 3_600_000],
  tokensPerSecond: [0, 1_000_000],
  lengthFactor: [0, 10],
  padToChars: [0, 256 * 1024 * 1024],
  dripIntervalMs: [0, 60_000],
  badToolCallRate: [0, 1],
  schemaViolationRate: [0, 1],
  embeddingDrift: [0, 100],
  chunkIntervalMs: [0, 60_000],
  streamChunks: [0, 100_000],
};
const OPTIONAL: ReadonlySet<Field> = new Set<Field>([
  'tokensPerSecond',
  'hangRate',
  'connectionDropRate',
  'lengthFactor',
  'padToChars',
  'dripIntervalMs',
  'sseCrlf',
  'badToolCallRate',
  'schemaViolationRate',
  'embeddingDrift',
  'chunkIntervalMs',
  'streamChunks',
]);

function isField(key: string): key is NumericField {
  return Object.prototype.hasOwnProperty.call(RANGES, key);
}

/**
 * Applies a partial behaviour (or a preset name) to `current` and returns the new complete behaviour.
 * Unknown fields, non-numbers and out-of-range values throw BehaviourError; `undefined` values are
 * ignored, and `null` resets an optional field to its default.
 */
export function applyBehaviour(
  current: Readonly<FullBehaviour>,
  update: Partial<Behaviour> | BehaviourPreset,
): FullBehaviour {
  if (typeof update === 'string') return resolveBehaviourUpdate(current, { preset: update });
  return resolveBehaviourUpdate(current, update);
}

/**
 * Parses the body of `PUT /admin/behaviour`: a partial behaviour, `{"preset": "name"}`, or a preset
 * plus overrides (`{"preset": "slower", "errorRate": 0.1}`: the preset replaces everything, then the
 * overrides apply).
 */
export function resolveBehaviourUpdate(current: Readonly<FullBehaviour>, input: unknown): FullBehaviour {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BehaviourError('The behaviour update must be a JSON object.', null);
  }
  const entries = Object.entries(input as Record<string, unknown>);
  let next: FullBehaviour = { ...current };
  for (const [key, value] of entries) {
    if (key !== 'preset') continue;
    if (typeof value !== 'string' || !isBehaviourPreset(value)) {
      throw new BehaviourError(
        `Unknown preset ${JSON.stringify(value)}; expected one of ${Object.keys(BEHAVIOURS).join(', ')}.`,
        'preset',
      );
    }
    next = { ...BEHAVIOURS[value] };
  }
  for (const [key, value] of entries) {
    if (key === 'preset' || value === undefined) continue;
    if (FLAGS.has(key)) {
      const flag = key as FlagField;
      if (value === null) next[flag] = FINE[flag];
      else if (typeof value === 'boolean') next[flag] = value;
      else throw new BehaviourError(`'${key}' must be true or false, got ${JSON.stringify(value)}.`, key);
      continue;
    }
    if (!isField(key)) {
      throw new BehaviourError(
        `Unknown behaviour field '${key}'; expected preset or one of ${[...Object.keys(RANGES), ...FLAGS].join(', ')}.`,
        key,
      );
    }
    if (value === null && OPTIONAL.has(key)) {
      next[key] = FINE[key];
      continue;
    }
    const [min, max] = RANGES[key];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      throw new BehaviourError(
        `'${key}' must be a number from ${min} to ${max}, got ${JSON.stringify(value)}.`,
        key,
      );
    }
    next[key] = value;
  }
  return next;
}

export const DEFAULT_BEHAVIOUR: Readonly<FullBehaviour> = BEHAVIOURS.fine;

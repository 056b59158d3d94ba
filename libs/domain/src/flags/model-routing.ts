import type { Endpoint } from '@aviary/contracts';
import type { VersionPrompt } from '../prompts/version-prompt';
import type { Cohort } from '../rollout/cohort';

/**
 * What a router needs to route one model: which upstream serves which share of users, and which
 * version shadows. It is self-contained (upstream details travel with it) so a router depends on the
 * flag source alone, never on the control plane or the database, on the request path.
 */
export interface UpstreamTarget {
  readonly versionId: string;
  readonly label: string;
  /** OpenAI-compatible base URL, e.g. http://vllm:8000/v1 */
  readonly baseUrl: string;
  /** The model name the upstream expects. */
  readonly upstreamModel: string;
  readonly timeoutMs: number;
  /** Name of the upstream credential sent with requests (see @aviary/config). Never the key itself. */
  readonly apiKeyRef: string | null;
  /** How the credential is sent; bearer when absent (payloads published before it existed). */
  readonly authScheme?: UpstreamAuthScheme;
  /** The OpenAI endpoints this version's upstream serves; null (or absent) = all of them. */
  readonly endpoints?: readonly Endpoint[] | null;
  /** The largest answer the router reads from this version, in bytes; null = the router's default. */
  readonly maxResponseBytes?: number | null;
  /** Deadline for a whole non-streamed answer (first byte to last); null = the router's default. */
  readonly totalTimeoutMs?: number | null;
  /** The version's system prompt and decoding parameters; absent = the request goes as it came. */
  readonly prompt?: VersionPrompt | null;
  /** USD per million prompt / completion tokens; absent = no price (the router reports no cost). */
  readonly prices?: UpstreamPrices | null;
}

export interface UpstreamPrices {
  readonly inputUsdPerMTok: number;
  readonly outputUsdPerMTok: number;
}

/** What one answer cost in USD at `prices` (null without prices or token counts). */
export function answerCostUsd(
  prices: UpstreamPrices | null | undefined,
  promptTokens: number | null,
  completionTokens: number | null,
): number | null {
  if (!prices || promptTokens === null || completionTokens === null) return null;
  return (promptTokens * prices.inputUsdPerMTok + completionTokens * prices.outputUsdPerMTok) / 1e6;
}

export const UPSTREAM_AUTH_SCHEMES = ['bearer', 'api-key', 'x-api-key'] as const;
/** `Authorization: Bearer` (OpenAI, vLLM), `api-key` (Azure OpenAI), `x-api-key` (Anthropic). */
export type UpstreamAuthScheme = (typeof UPSTREAM_AUTH_SCHEMES)[number];

export interface ModelRouting {
  /** The Aviary model name clients send as `model`. */
  readonly model: string;
  readonly baseline: UpstreamTarget;
  readonly candidate: UpstreamTarget | null;
  /** 0-100: percentage of stickiness keys served by the candidate. */
  readonly candidateWeight: number;
  /** Sampled mirroring of baseline-served requests to the candidate (never served). */
  readonly shadow: { readonly target: UpstreamTarget; readonly sampleRate: number } | null;
  readonly rolloutId: string | null;
  /**
   * Bucketing seed: constant for the life of a rollout, so users who got the candidate at 5% keep it at
   * 20% and 50% (the bucket is hash(seed, key) < weight).
   */
  readonly stickinessGroup: string;
  /**
   * Users served by the candidate whatever their bucket (published as a strategy with constraints
   * before the weighted one); null or absent: none. Only with a candidate.
   */
  readonly cohort?: Cohort | null;
  /** Monotonic per model; lets publishers skip stale updates. */
  readonly revision: number;
}

/** The flag name that carries a model's routing. */
export function flagNameForModel(model: string): string {
  return `aviary.model.${model}`;
}

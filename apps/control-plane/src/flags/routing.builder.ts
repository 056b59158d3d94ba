import { type Endpoint, endpointSchema, versionPromptSchema } from '@aviary/contracts';
import {
  deriveSplit,
  UPSTREAM_AUTH_SCHEMES,
  type UpstreamAuthScheme,
  type ModelRouting,
  type RolloutState,
  type UpstreamTarget,
  type VersionPrompt,
} from '@aviary/domain';

export interface VersionForRouting {
  readonly id: string;
  readonly label: string;
  readonly upstreamBaseUrl: string;
  readonly upstreamModel: string;
  readonly timeoutMs: number;
  readonly apiKeyRef: string | null;
  /** The credential apiKeyRef names (how it is sent). */
  readonly credential: { readonly authScheme: string } | null;
  /** Empty: every endpoint. */
  readonly endpoints?: readonly string[];
  readonly maxResponseBytes?: number | null;
  readonly totalTimeoutMs?: number | null;
  /** The version's prompt columns (JSON ones as stored); absent: the version sends requests as they come. */
  readonly systemPrompt?: string | null;
  readonly promptVariables?: unknown;
  readonly defaultParameters?: unknown;
  readonly enforcedParameters?: unknown;
  /** USD per million tokens; both or neither are set. */
  readonly inputUsdPerMTok?: number | null;
  readonly outputUsdPerMTok?: number | null;
}

/** The Prisma `select` that loads a VersionForRouting. */
export const VERSION_FOR_ROUTING_SELECT = {
  id: true,
  label: true,
  upstreamBaseUrl: true,
  upstreamModel: true,
  timeoutMs: true,
  apiKeyRef: true,
  credential: { select: { authScheme: true } },
  endpoints: true,
  maxResponseBytes: true,
  totalTimeoutMs: true,
  systemPrompt: true,
  promptVariables: true,
  defaultParameters: true,
  enforcedParameters: true,
  inputUsdPerMTok: true,
  outputUsdPerMTok: true,
} as const;

export interface RoutingInput {
  readonly model: { readonly id: string; readonly name: string };
  readonly stable: VersionForRouting;
  /** The model's active rollout, if any. */
  readonly rollout: {
    readonly id: string;
    readonly state: RolloutState;
    readonly baseline: VersionForRouting;
    readonly candidate: VersionForRouting;
  } | null;
  /**
   * Without an active rollout: the completed rollout whose watch owns the stable version's evidence
   * (routers stamp it on their events, so the analyzer keeps counting), or null.
   */
  readonly watchRolloutId?: string | null;
  readonly revision: number;
}

export function toUpstreamTarget(v: VersionForRouting): UpstreamTarget {
  return {
    versionId: v.id,
    label: v.label,
    baseUrl: v.upstreamBaseUrl,
    upstreamModel: v.upstreamModel,
    timeoutMs: v.timeoutMs,
    apiKeyRef: v.apiKeyRef,
    ...(v.apiKeyRef && v.credential ? { authScheme: authScheme(v.credential.authScheme) } : {}),
    endpoints: v.endpoints && v.endpoints.length > 0 ? knownEndpoints(v.endpoints) : null,
    maxResponseBytes: v.maxResponseBytes ?? null,
    totalTimeoutMs: v.totalTimeoutMs ?? null,
    ...versionPromptOf(v),
    // Only when priced: a version without prices publishes the payload it always did.
    ...(v.inputUsdPerMTok != null && v.outputUsdPerMTok != null
      ? { prices: { inputUsdPerMTok: v.inputUsdPerMTok, outputUsdPerMTok: v.outputUsdPerMTok } }
      : {}),
  };
}

/**
 * The prompt part of a version's target, or nothing when it has none. The columns hold what the admin
 * API validated; a value that does not parse (edited by hand) is left out rather than published.
 */
export function versionPromptOf(v: VersionForRouting): { prompt?: VersionPrompt } {
  const parsed = versionPromptSchema.safeParse({
    systemPrompt: v.systemPrompt ?? null,
    promptVariables: v.promptVariables ?? {},
    defaultParameters: v.defaultParameters ?? {},
    enforcedParameters: v.enforcedParameters ?? {},
  });
  if (!parsed.success) return {};
  const p = parsed.data;
  const empty = (o: object | undefined) => !o || Object.keys(o).length === 0;
  if (!p.systemPrompt && empty(p.defaultParameters) && empty(p.enforcedParameters)) return {};
  return { prompt: p };
}

/** The database keeps strings; the API only ever wrote known endpoint names. */
function knownEndpoints(values: readonly string[]): Endpoint[] {
  return values.filter((e): e is Endpoint => endpointSchema.safeParse(e).success);
}

/** The routing a model's flag should carry, from its stable version and active rollout. */
export function buildRouting(input: RoutingInput): ModelRouting {
  const { model, rollout, revision } = input;
  if (!rollout) {
    return {
      model: model.name,
      baseline: toUpstreamTarget(input.stable),
      candidate: null,
      candidateWeight: 0,
      shadow: null,
      rolloutId: input.watchRolloutId ?? null,
      stickinessGroup: model.name,
      revision,
    };
  }
  const split = deriveSplit(rollout.state);
  const candidate = toUpstreamTarget(rollout.candidate);
  return {
    model: model.name,
    baseline: toUpstreamTarget(rollout.baseline),
    candidate: split.candidateWeight > 0 || split.cohort ? candidate : null,
    candidateWeight: split.candidateWeight,
    cohort: split.cohort,
    shadow:
      split.shadowSampleRate !== null ? { target: candidate, sampleRate: split.shadowSampleRate } : null,
    rolloutId: rollout.id,
    // Constant for the rollout's life: users who got the candidate at 5% keep it at 20% and 50%.
    stickinessGroup: `${model.name}:${rollout.id}`,
    revision,
  };
}

function authScheme(stored: string): UpstreamAuthScheme {
  const known = UPSTREAM_AUTH_SCHEMES.find((s) => s === stored);
  if (!known) throw new Error(`unknown upstream auth scheme ${JSON.stringify(stored)} in the database`);
  return known;
}

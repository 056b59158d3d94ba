import { createHash } from 'node:crypto';
import { z } from 'zod';
import { endpointSchema, versionPromptSchema } from '@aviary/contracts';
import {
  cohortConstraints,
  type CohortConstraint,
  flagNameForModel,
  type ModelRouting,
  UPSTREAM_AUTH_SCHEMES,
  type UpstreamTarget,
} from '@aviary/domain';
import { RoutingEncodingError } from './flags.errors';

/*
 * THE encoding of a ModelRouting as an Unleash feature flag. The Unleash admin adapter writes it, the
 * control plane's built-in Unleash-compatible endpoint serves it, and routers read it back through
 * unleash-client's getVariant(flag, { userId: <stickiness key> }).
 *
 * One flag per model, flexibleRollout strategies evaluated in order:
 *   (c) rollout 100% with the cohort's constraints, variant "candidate", payload cohort: true
 *                                                          (only while a step targets a cohort)
 *   (a) rollout <candidateWeight>%, variant "candidate"   (only while a candidate serves traffic)
 *   (b) rollout 100%,               variant "baseline"    (everyone (c) and (a) did not take)
 * Both share groupId = stickinessGroup, so unleash's bucket (murmur3(groupId:userId) % 100) is constant
 * for a user over the rollout: whoever got the candidate at 20% keeps it at 50%.
 */

export const ROUTING_PAYLOAD_VERSION = 1;
export const CANDIDATE_VARIANT = 'candidate';
export const BASELINE_VARIANT = 'baseline';
/** The router puts its stickiness key (user or conversation id) in context.userId. */
export const ROUTING_STICKINESS = 'userId';
export const ROUTING_STRATEGY = 'flexibleRollout';
/**
 * Unleash's type for a long-lived flag that decides what each user gets. `permission` is never marked
 * potentially stale (a `release` flag is after 40 days, which invites archiving it: an outage).
 */
export const ROUTING_FLAG_TYPE = 'permission';
const VARIANT_WEIGHT = 1000;
/** Under unleash-server's 100 kB body limit, with room for the rest of the strategy request. */
export const MAX_ENCODED_PAYLOAD_BYTES = 96_000;

/** The title of the cohort's strategy (its variant is a candidate variant whose payload says cohort). */
export const COHORT_TITLE = 'aviary cohort';

export type RoutingRole = typeof CANDIDATE_VARIANT | typeof BASELINE_VARIANT;

export const upstreamTargetSchema = z.object({
  versionId: z.string().min(1),
  label: z.string(),
  baseUrl: z.url(),
  upstreamModel: z.string().min(1),
  timeoutMs: z.number().int().positive(),
  apiKeyRef: z.string().min(1).nullable(),
  /** Optional within v1: payloads published before it existed mean bearer. */
  authScheme: z.enum(UPSTREAM_AUTH_SCHEMES).optional(),
  // Optional within v1: routers ignore what they do not know, publishers add only optional fields.
  endpoints: z.array(endpointSchema).min(1).readonly().nullable().optional(),
  maxResponseBytes: z.number().int().positive().nullable().optional(),
  totalTimeoutMs: z.number().int().positive().nullable().optional(),
  prompt: versionPromptSchema.nullable().optional(),
  /** USD per million tokens; absent = no price. */
  prices: z
    .object({ inputUsdPerMTok: z.number().nonnegative(), outputUsdPerMTok: z.number().nonnegative() })
    .nullable()
    .optional(),
});

/**
 * The JSON payload of a routing variant: everything a router needs to serve a request without asking
 * the control plane. Versioned; additive fields keep v=1 (unknown keys are ignored on decode).
 */
export const routingPayloadSchema = z.object({
  v: z.literal(ROUTING_PAYLOAD_VERSION),
  role: z.enum([CANDIDATE_VARIANT, BASELINE_VARIANT]),
  model: z.string().min(1),
  /** Who serves a request that got this variant. */
  target: upstreamTargetSchema,
  rolloutId: z.string().nullable(),
  revision: z.number().int().nonnegative(),
  /** The split this variant was published under (0-100), for logs and response headers. */
  candidateWeight: z.number().int().min(0).max(100),
  /**
   * Mirror this share (0-1] of requests to shadow.target without serving its answer. Set on the
   * baseline variant only: shadowing applies to baseline-served requests.
   */
  shadow: z.object({ target: upstreamTargetSchema, sampleRate: z.number().gt(0).max(1) }).nullable(),
  /**
   * Where a candidate-served request goes if the candidate fails before its first byte (connect
   * error, 5xx, timeout): the baseline. Set on the candidate variant only; optional within v1.
   */
  fallback: upstreamTargetSchema.nullable().optional(),
  /** The request was routed by a cohort rule, not by its bucket: not a random sample. Optional within v1. */
  cohort: z.literal(true).optional(),
});

export type RoutingPayload = z.infer<typeof routingPayloadSchema>;
export type DecodedRouting = Readonly<RoutingPayload>;

/** unleash-client's Variant, structurally (this file stays free of the SDK). */
export interface VariantLike {
  readonly name: string;
  readonly enabled?: boolean;
  readonly payload?: { readonly type: string; readonly value: string } | undefined;
}

export interface StrategyVariant {
  name: RoutingRole;
  weight: number;
  weightType: 'variable';
  stickiness: string;
  payload: { type: 'json'; value: string };
}

/** A strategy as the admin API takes it (POST/PUT .../environments/{env}/strategies). */
export interface EncodedStrategy {
  name: typeof ROUTING_STRATEGY;
  title: string;
  disabled: false;
  constraints: CohortConstraint[];
  segments: [];
  parameters: { groupId: string; rollout: string; stickiness: string };
  variants: [StrategyVariant];
}

/** A strategy as the client API (`GET /api/client/features`) serves it. */
export interface ClientStrategy {
  name: string;
  constraints: CohortConstraint[];
  parameters: Record<string, string>;
  variants: StrategyVariant[];
}

/** A feature as the client API serves it (unleash-server 8, response format version 2). */
export interface ClientFeature {
  name: string;
  type: string;
  enabled: boolean;
  project: string;
  stale: boolean;
  strategies: ClientStrategy[];
  variants: [];
  description: string;
  impressionData: boolean;
}

export interface ClientFeaturesResponse {
  version: 2;
  features: ClientFeature[];
  query: Record<string, unknown>;
}

export interface ClientFeatureOptions {
  /** Unleash project reported to SDKs; default 'default'. */
  readonly project?: string;
}

export interface ClientFeaturesResponseOptions extends ClientFeatureOptions {
  /** Echoed in `query.environment`, as unleash-server does; omitted when not given. */
  readonly environment?: string;
}

/**
 * What an Unleash user reads on the flag: which model it routes, who owns it, what switching it off
 * does, and where to look (the status page, when the control plane knows its address).
 */
export function describeRoutingFlag(model: string, statusUrl?: string | null): string {
  const status = statusUrl ? ` Status: ${statusUrl}/status#model-${model}` : '';
  return (
    `Aviary traffic split for model "${model}" (which version each user gets). Managed by the Aviary control plane: ` +
    `edits are overwritten; switching it off or archiving it rolls the model's rollout back, everyone on the stable version.${status}`
  );
}

/** The routing flag's strategies, in evaluation order. Throws RoutingEncodingError for invalid routings. */
export function encodeRoutingStrategies(routing: ModelRouting): EncodedStrategy[] {
  const weight = effectiveCandidateWeight(routing);
  const strategies: EncodedStrategy[] = [];
  if (routing.candidate !== null && routing.cohort) {
    const payload = { ...encodeRoutingPayload(routing, CANDIDATE_VARIANT), cohort: true as const };
    strategies.push(strategy(routing, '100', payload, cohortConstraints(routing.cohort)));
  }
  if (routing.candidate !== null && weight > 0) {
    strategies.push(strategy(routing, String(weight), encodeRoutingPayload(routing, CANDIDATE_VARIANT)));
  }
  strategies.push(strategy(routing, '100', encodeRoutingPayload(routing, BASELINE_VARIANT)));
  return strategies;
}

/** The payload a variant of the given role carries, validated so routers never receive one they drop. */
export function encodeRoutingPayload(routing: ModelRouting, role: RoutingRole): RoutingPayload {
  validateRouting(routing);
  const target = role === CANDIDATE_VARIANT ? routing.candidate : routing.baseline;
  if (target === null) {
    throw new RoutingEncodingError(routing.model, 'candidate', 'is null, so there is no candidate variant');
  }
  const payload = {
    v: ROUTING_PAYLOAD_VERSION,
    role,
    model: routing.model,
    target: copyTarget(target),
    rolloutId: routing.rolloutId,
    revision: routing.revision,
    candidateWeight: effectiveCandidateWeight(routing),
    shadow:
      role === BASELINE_VARIANT && routing.shadow !== null
        ? { target: copyTarget(routing.shadow.target), sampleRate: routing.shadow.sampleRate }
        : null,
    fallback: role === CANDIDATE_VARIANT ? copyTarget(routing.baseline) : null,
  } satisfies RoutingPayload;
  const checked = routingPayloadSchema.safeParse(payload);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = issue ? `${role}.${issue.path.join('.')}` : role;
    throw new RoutingEncodingError(routing.model, field, issue?.message ?? 'is invalid');
  }
  // The strategy request carries the payload as an escaped JSON string; unleash-server's admin API
  // takes request bodies up to express' default 100 kB (Unleash/unleash#1470, kept so).
  const size = Buffer.byteLength(JSON.stringify(JSON.stringify(payload)));
  if (size > MAX_ENCODED_PAYLOAD_BYTES) {
    throw new RoutingEncodingError(
      routing.model,
      `${role}.target.prompt`,
      `makes the variant payload ${size} bytes, more than the ${MAX_ENCODED_PAYLOAD_BYTES} unleash-server accepts in one request`,
    );
  }
  return payload;
}

/**
 * The routing a variant returned by unleash-client's getVariant carries, or null when the variant is
 * not a (valid) routing variant: the flag is missing/disabled, or the payload is from an unknown
 * version. Decoding is cached per payload object, so a router can call this per request.
 */
export function decodeRoutingVariant(variant: VariantLike | null | undefined): DecodedRouting | null {
  if (!variant || variant.enabled === false || !variant.payload || variant.payload.type !== 'json')
    return null;
  const cached = decodeCache.get(variant.payload);
  if (cached !== undefined) return cached.name === variant.name ? cached.decoded : null;
  const decoded = decodePayloadValue(variant.payload.value);
  decodeCache.set(variant.payload, { name: variant.name, decoded });
  return decoded !== null && decoded.role === variant.name ? decoded : null;
}

/** Parses a payload value string (the JSON inside a variant), or null when it is not a valid routing. */
export function decodePayloadValue(value: string): DecodedRouting | null {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return null;
  }
  const parsed = routingPayloadSchema.safeParse(json);
  return parsed.success ? Object.freeze(parsed.data) : null;
}

const decodeCache = new WeakMap<object, { readonly name: string; readonly decoded: DecodedRouting | null }>();

/** The flag as `GET /api/client/features` lists it. */
export function toClientFeature(routing: ModelRouting, options: ClientFeatureOptions = {}): ClientFeature {
  return {
    name: flagNameForModel(routing.model),
    type: ROUTING_FLAG_TYPE,
    enabled: true,
    project: options.project ?? 'default',
    stale: false,
    strategies: encodeRoutingStrategies(routing).map((s) => ({
      name: s.name,
      constraints: s.constraints,
      parameters: { ...s.parameters },
      variants: s.variants,
    })),
    variants: [],
    description: describeRoutingFlag(routing.model),
    impressionData: false,
  };
}

/**
 * The body of `GET /api/client/features` for these routings, sorted by flag name so the same routings
 * always give the same bytes (and ETag) whatever order they were loaded in.
 */
export function buildClientFeaturesResponse(
  routings: readonly ModelRouting[],
  options: ClientFeaturesResponseOptions = {},
): ClientFeaturesResponse {
  const features = routings
    .map((routing) => toClientFeature(routing, options))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const query: Record<string, unknown> =
    options.environment === undefined
      ? { inlineSegmentConstraints: true }
      : { environment: options.environment, inlineSegmentConstraints: true };
  return { version: 2, features, query };
}

/**
 * A weak ETag (W/"<sha256 prefix>") of a response body: the string as sent, or an object's
 * JSON.stringify. Weak because compression middleware may re-encode the bytes; the meaning is the same.
 */
export function computeEtag(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return `W/"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;
}

/**
 * Whether an If-None-Match header matches the ETag (weak comparison, lists and `*` as in RFC 9110), i.e.
 * whether the endpoint may answer 304.
 */
export function etagMatches(ifNoneMatch: string | readonly string[] | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const header = typeof ifNoneMatch === 'string' ? ifNoneMatch : ifNoneMatch.join(',');
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return header.split(',').some((candidate) => candidate.trim() === '*' || opaque(candidate) === wanted);
}

function strategy(
  routing: ModelRouting,
  rollout: string,
  payload: RoutingPayload,
  constraints: CohortConstraint[] = [],
): EncodedStrategy {
  return {
    name: ROUTING_STRATEGY,
    title: payload.cohort ? COHORT_TITLE : `aviary ${payload.role}`,
    disabled: false,
    constraints,
    segments: [],
    // Key order as unleash-server returns them (jsonb sorts keys), so encoded and served bytes agree.
    parameters: { groupId: routing.stickinessGroup, rollout, stickiness: ROUTING_STICKINESS },
    variants: [
      {
        name: payload.role,
        weight: VARIANT_WEIGHT,
        // unleash-server requires at least one "variable" variant; a lone variable variant gets all 1000.
        weightType: 'variable',
        stickiness: ROUTING_STICKINESS,
        payload: { type: 'json', value: JSON.stringify(payload) },
      },
    ],
  };
}

function effectiveCandidateWeight(routing: ModelRouting): number {
  return routing.candidate === null ? 0 : routing.candidateWeight;
}

function validateRouting(routing: ModelRouting): void {
  const flag = flagNameForModel(routing.model);
  // Unleash only accepts URL-safe names (it checks encodeURIComponent(name) === name), max 100 chars.
  if (routing.model.length === 0 || encodeURIComponent(flag) !== flag || flag.length > 100) {
    throw new RoutingEncodingError(
      routing.model,
      'model',
      `must give a URL-safe flag name of at most 100 characters (letters, digits, - _ . ~), got "${flag}"`,
    );
  }
  const weight = routing.candidateWeight;
  // Unleash buckets users in whole percentages, so a fractional weight would be silently truncated.
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new RoutingEncodingError(
      routing.model,
      'candidateWeight',
      `must be a whole number from 0 to 100, got ${weight}`,
    );
  }
  if (routing.stickinessGroup.length === 0) {
    throw new RoutingEncodingError(routing.model, 'stickinessGroup', 'must not be empty');
  }
  if (!Number.isInteger(routing.revision) || routing.revision < 0) {
    throw new RoutingEncodingError(
      routing.model,
      'revision',
      `must be a non-negative integer, got ${routing.revision}`,
    );
  }
}

function copyTarget(target: UpstreamTarget): UpstreamTarget {
  return {
    versionId: target.versionId,
    label: target.label,
    baseUrl: target.baseUrl,
    upstreamModel: target.upstreamModel,
    timeoutMs: target.timeoutMs,
    apiKeyRef: target.apiKeyRef,
    ...(target.authScheme ? { authScheme: target.authScheme } : {}),
    // Left out when not set, so routings without them encode to the same bytes as before.
    ...(target.endpoints ? { endpoints: [...target.endpoints] } : {}),
    ...(target.maxResponseBytes ? { maxResponseBytes: target.maxResponseBytes } : {}),
    ...(target.totalTimeoutMs ? { totalTimeoutMs: target.totalTimeoutMs } : {}),
    ...promptOf(target),
    ...(target.prices ? { prices: { ...target.prices } } : {}),
  };
}

/** The target's prompt part, left out when the version carries none (old bytes stay the same). */
function promptOf(target: UpstreamTarget): Pick<UpstreamTarget, 'prompt'> {
  const p = target.prompt;
  if (!p) return {};
  const prompt = {
    ...(p.systemPrompt ? { systemPrompt: p.systemPrompt } : {}),
    ...(p.promptVariables && Object.keys(p.promptVariables).length > 0
      ? { promptVariables: { ...p.promptVariables } }
      : {}),
    ...(p.defaultParameters && Object.keys(p.defaultParameters).length > 0
      ? { defaultParameters: { ...p.defaultParameters } }
      : {}),
    ...(p.enforcedParameters && Object.keys(p.enforcedParameters).length > 0
      ? { enforcedParameters: { ...p.enforcedParameters } }
      : {}),
  };
  return Object.keys(prompt).length > 0 ? { prompt } : {};
}

import { isDeepStrictEqual } from 'node:util';
import {
  type CohortConstraint,
  flagNameForModel,
  normalizeConstraint,
  type FlagInspector,
  type FlagObservation,
  type FlagPublisher,
  type ModelRouting,
  type PublishOptions,
} from '@aviary/domain';
import { FlagPublishError } from './flags.errors';
import {
  BASELINE_VARIANT,
  CANDIDATE_VARIANT,
  COHORT_TITLE,
  decodePayloadValue,
  describeRoutingFlag,
  encodeRoutingStrategies,
  ROUTING_FLAG_TYPE,
  type EncodedStrategy,
  type RoutingRole,
} from './unleash-feature.encoding';

export interface UnleashFlagPublisherOptions {
  /** Base URL of the Unleash server, e.g. http://unleash:4242 (without /api). */
  readonly url: string;
  /** Admin API token or personal access token, sent verbatim as `Authorization`. */
  readonly adminToken?: string | null;
  readonly project?: string;
  readonly environment?: string;
  /** Per HTTP request. */
  readonly timeoutMs?: number;
  /** The control plane's public address, linked from each flag's description (its status page). */
  readonly statusUrl?: string | null;
  /** For tests; defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

/** An event of Unleash's per-flag event log (GET /api/admin/events/{flag}). */
interface UnleashEvent {
  readonly type: string;
  readonly createdBy?: string | null;
  readonly environment?: string | null;
  readonly createdAt?: string;
}

/** A strategy as the admin API returns it inside a feature's environment. */
interface AdminStrategy {
  readonly id: string;
  readonly name: string;
  readonly title?: string | null;
  readonly disabled?: boolean | null;
  readonly sortOrder?: number;
  readonly constraints?: readonly unknown[];
  readonly segments?: readonly unknown[];
  readonly parameters?: Record<string, unknown>;
  readonly variants?: readonly {
    readonly name: string;
    readonly weight?: number;
    readonly weightType?: string;
    readonly stickiness?: string;
    readonly payload?: { readonly type: string; readonly value: string };
  }[];
}

interface EnvironmentState {
  readonly enabled: boolean;
  readonly strategies: readonly AdminStrategy[];
  /** The flag's own type and description, kept as Aviary writes them. */
  readonly type: string | null;
  readonly description: string | null;
}

const BODY_EXCERPT_CHARS = 300;

/**
 * Publishes routings to an Unleash server through its admin API (unleash-server 8). One flag per model,
 * encoded by unleash-feature.encoding. A publish reads the feature once and then writes only what
 * differs, so it converges and a repeated publish of the same routing costs a single GET:
 *
 * - the baseline strategy is updated in place and never removed, so the flag never has a moment without
 *   a catch-all (removing the last strategy would also make Unleash switch the environment off);
 * - on rollback the candidate strategy is deleted first, before anything else is written;
 * - strategies Aviary does not recognise (edited in the UI) and duplicates are deleted;
 * - a routing older than what is published (lower revision) is skipped, so a late retry cannot undo a
 *   newer split.
 */
export class UnleashFlagPublisher implements FlagPublisher, FlagInspector {
  readonly name = 'unleash';
  private readonly statusUrl: string | null;
  private readonly baseUrl: string;
  private readonly project: string;
  private readonly environment: string;
  private readonly timeoutMs: number;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  /** Publishes of one flag run one after another: interleaved read-then-write would duplicate strategies. */
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(options: UnleashFlagPublisherOptions) {
    this.baseUrl = options.url.replace(/\/+$/, '');
    this.project = options.project ?? 'default';
    this.environment = options.environment ?? 'development';
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.fetchImpl = options.fetch ?? fetch;
    this.statusUrl = options.statusUrl?.replace(/\/+$/, '') ?? null;
    this.headers = { accept: 'application/json' };
    if (options.adminToken) this.headers.authorization = options.adminToken;
  }

  async check(): Promise<void> {
    await this.call('GET', '/health');
  }

  publish(routing: ModelRouting, options: PublishOptions = {}): Promise<void> {
    const flag = flagNameForModel(routing.model);
    const previous = this.inFlight.get(flag) ?? Promise.resolve();
    const current = previous
      .catch(() => undefined)
      .then(() => this.publishNow(flag, routing, options.signal));
    this.inFlight.set(flag, current);
    const forget = () => {
      if (this.inFlight.get(flag) === current) this.inFlight.delete(flag);
    };
    current.then(forget, forget);
    return current;
  }

  private async publishNow(flag: string, routing: ModelRouting, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const call = <T = unknown>(method: string, path: string, body?: unknown, tolerated?: readonly number[]) =>
      this.call<T>(method, path, body, tolerated, signal);
    const desired = encodeRoutingStrategies(routing);
    const state =
      (await this.readEnvironment(flag, signal)) ?? (await this.createFeature(flag, routing.model, signal));

    const published = publishedRevision(state.strategies);
    if (published !== null && published > routing.revision) return;

    // Flags made by earlier versions were `release` flags, which Unleash suggests archiving.
    const description = describeRoutingFlag(routing.model, this.statusUrl);
    if (state.type !== ROUTING_FLAG_TYPE || state.description !== description) {
      await call('PATCH', this.featurePath(flag), [
        { op: 'replace', path: '/type', value: ROUTING_FLAG_TYPE },
        { op: 'replace', path: '/description', value: description },
      ]);
    }

    const strategiesPath = `${this.featurePath(flag)}/environments/${encodeURIComponent(this.environment)}/strategies`;
    const ordered = [...state.strategies].sort(byUnleashOrder);
    const found = (slot: Slot) => ordered.find((s) => slotOf(s) === slot);
    const wanted = (slot: Slot) => desired.find((s) => encodedSlotOf(s) === slot);
    const wantedBaseline = wanted('baseline');
    if (!wantedBaseline) throw new Error('encoding produced no baseline strategy');
    let baseline = found('baseline');
    const served: Partial<Record<ServingSlot, AdminStrategy>> = {};

    const deleted = new Set<string>();
    const remove = async (strategy: AdminStrategy) => {
      // 404: already gone (a concurrent publisher or a human got there first), which is what we want.
      await call('DELETE', `${strategiesPath}/${encodeURIComponent(strategy.id)}`, undefined, [404]);
      deleted.add(strategy.id);
    };

    // Rollback first: the candidate (and its cohort) stop serving before anything else is written.
    for (const slot of SERVING_SLOTS) {
      const existing = found(slot);
      if (!existing) continue;
      if (wanted(slot)) served[slot] = existing;
      else if (baseline) await remove(existing);
    }

    if (!baseline) {
      const sortOrder = nextSortOrder(ordered);
      baseline = await call<AdminStrategy>('POST', strategiesPath, { ...wantedBaseline, sortOrder });
    } else if (!sameStrategy(baseline, wantedBaseline)) {
      await call('PUT', `${strategiesPath}/${encodeURIComponent(baseline.id)}`, wantedBaseline);
    }

    for (const slot of SERVING_SLOTS) {
      const want = wanted(slot);
      if (!want) continue;
      const existing = served[slot];
      if (!existing) {
        // Evaluated before the baseline (and the cohort before the weighted candidate): a lower
        // sortOrder (may be negative); a tie is put in order below.
        const below = Math.min(baseline.sortOrder ?? 0, served.candidate?.sortOrder ?? Infinity);
        served[slot] = await call<AdminStrategy>('POST', strategiesPath, { ...want, sortOrder: below - 1 });
      } else if (!sameStrategy(existing, want)) {
        await call('PUT', `${strategiesPath}/${encodeURIComponent(existing.id)}`, want);
      }
    }

    const inOrder = [served.cohort, served.candidate, baseline].filter((s) => s !== undefined);
    const keep = new Set(inOrder.map((s) => s.id));
    for (const extra of ordered.filter((s) => !keep.has(s.id) && !deleted.has(s.id))) {
      await remove(extra);
    }

    // PUT cannot move a strategy; only a hand-edited flag (or a sortOrder tie) gets here.
    if (inOrder.some((s, i) => i > 0 && byUnleashOrder(inOrder[i - 1] as AdminStrategy, s) > 0)) {
      await call(
        'POST',
        `${strategiesPath}/set-sort-order`,
        inOrder.map((s, sortOrder) => ({ id: s.id, sortOrder })),
      );
    }

    if (!state.enabled) {
      await call('POST', `${this.featurePath(flag)}/environments/${encodeURIComponent(this.environment)}/on`);
    }
  }

  /**
   * Reads the flag back and says how it differs from `routing` (what Aviary published): switched off,
   * archived or gone, the candidate's strategy disabled or removed, or otherwise edited — and who did
   * it, from Unleash's event log.
   */
  async inspect(routing: ModelRouting, options: PublishOptions = {}): Promise<FlagObservation> {
    const flag = flagNameForModel(routing.model);
    const state = await this.readEnvironment(flag, options.signal);
    const who = (types: readonly string[]) => this.lastChangedBy(flag, types, options.signal);
    if (state === null) {
      const archivedBy = await this.lastEvent(flag, ['feature-archived'], options.signal);
      return archivedBy
        ? { drift: 'archived', detail: `${flag} is archived`, changedBy: archivedBy.createdBy ?? null }
        : { drift: 'missing', detail: `${flag} does not exist`, changedBy: await who(['feature-deleted']) };
    }
    if (!state.enabled) {
      return {
        drift: 'disabled',
        detail: `${flag} is off in environment ${this.environment}`,
        changedBy: await who(['feature-environment-disabled']),
      };
    }
    // A newer split is on its way (or there already): the caller's routing is out of date, not the flag.
    const published = publishedRevision(state.strategies);
    if (published !== null && published > routing.revision) {
      return { drift: null, detail: `${flag} holds a newer revision (${published})`, changedBy: null };
    }
    const desired = encodeRoutingStrategies(routing);
    const strategyEvents = ['feature-strategy-update', 'feature-strategy-remove', 'feature-strategy-add'];
    for (const slot of SERVING_SLOTS) {
      if (!desired.some((s) => encodedSlotOf(s) === slot)) continue;
      const existing = state.strategies.find((s) => slotOf(s) === slot);
      if (existing && !existing.disabled) continue;
      const which = slot === 'cohort' ? "the candidate's cohort strategy" : 'the candidate strategy';
      return {
        drift: 'candidate-disabled',
        detail: `${flag}: ${which} is ${existing ? 'disabled' : 'gone'}`,
        changedBy: await who(strategyEvents),
      };
    }
    const ordered = [...state.strategies].sort(byUnleashOrder);
    const inSync =
      ordered.length === desired.length &&
      desired.every((want, i) => ordered[i] && sameStrategy(ordered[i], want));
    if (inSync) return { drift: null, detail: `${flag} matches Aviary`, changedBy: null };
    return {
      drift: 'edited',
      detail: `${flag}: ${ordered.length} strategies, not Aviary's ${desired.length} (${desired.map((d) => d.title).join(', ')})`,
      changedBy: await who(strategyEvents),
    };
  }

  private async lastEvent(
    flag: string,
    types: readonly string[],
    signal?: AbortSignal,
  ): Promise<UnleashEvent | null> {
    const log = await this.call<{ events?: readonly UnleashEvent[] } | null>(
      'GET',
      `/api/admin/events/${encodeURIComponent(flag)}`,
      undefined,
      [404],
      signal,
    ).catch(() => null);
    // Newest first, as Unleash lists them.
    return (
      log?.events?.find(
        (e) => types.includes(e.type) && (e.environment == null || e.environment === this.environment),
      ) ?? null
    );
  }

  private async lastChangedBy(
    flag: string,
    types: readonly string[],
    signal?: AbortSignal,
  ): Promise<string | null> {
    return (await this.lastEvent(flag, types, signal))?.createdBy ?? null;
  }

  /** The flag's state in our environment, or null when the flag does not exist (or is archived). */
  private async readEnvironment(flag: string, signal?: AbortSignal): Promise<EnvironmentState | null> {
    const feature = await this.call<{
      type?: string;
      description?: string | null;
      environments?: readonly ({ name: string } & Omit<EnvironmentState, 'type' | 'description'>)[];
    } | null>('GET', this.featurePath(flag), undefined, [404], signal);
    if (feature === null) return null;
    const env = feature.environments?.find((e) => e.name === this.environment);
    if (!env) {
      throw new FlagPublishError(
        `unleash: environment "${this.environment}" is not enabled in project "${this.project}" (flag ${flag})`,
        { method: 'GET', url: this.url(this.featurePath(flag)), status: 200 },
      );
    }
    return {
      enabled: env.enabled,
      strategies: env.strategies ?? [],
      type: feature.type ?? null,
      description: feature.description ?? null,
    };
  }

  private async createFeature(flag: string, model: string, signal?: AbortSignal): Promise<EnvironmentState> {
    const created = await this.call<object | null>(
      'POST',
      `/api/admin/projects/${encodeURIComponent(this.project)}/features`,
      {
        name: flag,
        type: ROUTING_FLAG_TYPE,
        description: describeRoutingFlag(model, this.statusUrl),
        impressionData: false,
      },
      [409],
      signal,
    );
    if (created === null) {
      // Someone created it meanwhile, or it is archived (then bring it back; its history is kept).
      await this.call(
        'POST',
        `/api/admin/archive/revive/${encodeURIComponent(flag)}`,
        undefined,
        [400, 404],
        signal,
      );
    }
    const state = await this.readEnvironment(flag, signal);
    if (state === null) {
      throw new FlagPublishError(
        `unleash: flag ${flag} exists but not in project "${this.project}" (name taken by another project?)`,
        { method: 'POST', url: this.url(`/api/admin/projects/${this.project}/features`), status: 409 },
      );
    }
    return state;
  }

  private featurePath(flag: string): string {
    return `/api/admin/projects/${encodeURIComponent(this.project)}/features/${encodeURIComponent(flag)}`;
  }

  private url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /**
   * One admin API call. 2xx gives the parsed JSON body (or null when empty); statuses listed in
   * `tolerated` give null; anything else throws FlagPublishError with the status and a body excerpt.
   */
  private async call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    tolerated: readonly number[] = [],
    abandon?: AbortSignal,
  ): Promise<T> {
    const url = this.url(path);
    let response: Response;
    const timeout = AbortSignal.timeout(this.timeoutMs);
    try {
      response = await this.fetchImpl(url, {
        method,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: abandon ? AbortSignal.any([timeout, abandon]) : timeout,
      });
    } catch (cause) {
      // By name, not instanceof: the abort reason is a DOMException, which may come from another realm.
      const name = typeof cause === 'object' && cause !== null && 'name' in cause ? String(cause.name) : '';
      const reason =
        abandon?.aborted === true
          ? 'abandoned (superseded or past the publish deadline)'
          : name === 'TimeoutError' || name === 'AbortError'
            ? `timed out after ${this.timeoutMs} ms`
            : `failed: ${describeCause(cause)}`;
      throw new FlagPublishError(`unleash: ${method} ${url} ${reason}`, { method, url, cause });
    }
    const text = await response.text().catch(() => '');
    if (response.ok) return (text ? (JSON.parse(text) as T) : null) as T;
    if (tolerated.includes(response.status)) return null as T;
    const excerpt = text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}…` : text;
    throw new FlagPublishError(
      `unleash: ${method} ${url} answered ${response.status}: ${excerpt || '(empty body)'}`,
      {
        method,
        url,
        status: response.status,
        bodyExcerpt: excerpt,
      },
    );
  }
}

function roleOf(strategy: AdminStrategy): RoutingRole | null {
  const variants = strategy.variants ?? [];
  const name = variants.length === 1 ? variants[0]?.name : undefined;
  return name === CANDIDATE_VARIANT || name === BASELINE_VARIANT ? name : null;
}

/** Which of Aviary's strategies one is: the cohort's, the weighted candidate's, or the baseline's. */
type Slot = 'cohort' | 'candidate' | 'baseline';
type ServingSlot = Exclude<Slot, 'baseline'>;
/** In the order they are written after the baseline: the weighted candidate, then the cohort. */
const SERVING_SLOTS: readonly ServingSlot[] = ['candidate', 'cohort'];

function slotOf(strategy: AdminStrategy): Slot | null {
  const role = roleOf(strategy);
  if (role !== CANDIDATE_VARIANT) return role;
  const value = strategy.variants?.[0]?.payload?.value;
  return value !== undefined && decodePayloadValue(value)?.cohort ? 'cohort' : 'candidate';
}

function encodedSlotOf(strategy: EncodedStrategy): Slot {
  const role = strategy.variants[0].name;
  return role === BASELINE_VARIANT ? role : strategy.title === COHORT_TITLE ? 'cohort' : 'candidate';
}

/** The highest revision among the routing variants currently published, or null when there are none. */
function publishedRevision(strategies: readonly AdminStrategy[]): number | null {
  let revision: number | null = null;
  for (const strategy of strategies) {
    const value = roleOf(strategy) ? strategy.variants?.[0]?.payload?.value : undefined;
    const decoded = value === undefined ? null : decodePayloadValue(value);
    if (decoded !== null && (revision === null || decoded.revision > revision)) revision = decoded.revision;
  }
  return revision;
}

/** unleash-server's order: sortOrder, then id (util/sortStrategies). */
function byUnleashOrder(a: AdminStrategy, b: AdminStrategy): number {
  const bySort = (a.sortOrder ?? 0) - (b.sortOrder ?? 0);
  return bySort !== 0 ? bySort : a.id.localeCompare(b.id);
}

function nextSortOrder(strategies: readonly AdminStrategy[]): number {
  return strategies.reduce((max, s) => Math.max(max, (s.sortOrder ?? 0) + 1), 0);
}

function sameStrategy(actual: AdminStrategy, wanted: EncodedStrategy): boolean {
  const variants = actual.variants ?? [];
  const variant = variants[0];
  const want = wanted.variants[0];
  return (
    actual.name === wanted.name &&
    (actual.title ?? null) === wanted.title &&
    !actual.disabled &&
    sameConstraints(actual.constraints ?? [], wanted.constraints) &&
    (actual.segments ?? []).length === 0 &&
    sameParameters(actual.parameters ?? {}, wanted.parameters) &&
    variants.length === 1 &&
    variant !== undefined &&
    variant.name === want.name &&
    variant.weight === want.weight &&
    variant.weightType === want.weightType &&
    variant.stickiness === want.stickiness &&
    variant.payload?.type === want.payload.type &&
    variant.payload.value === want.payload.value
  );
}

/** Compared in the shape unleash-server stores (it fills in values/inverted/caseInsensitive). */
function sameConstraints(actual: readonly unknown[], wanted: readonly CohortConstraint[]): boolean {
  return (
    actual.length === wanted.length &&
    actual.every((c, i) => {
      const want = wanted[i];
      if (want === undefined || typeof c !== 'object' || c === null) return false;
      return isDeepStrictEqual(normalizeConstraint(c as CohortConstraint), normalizeConstraint(want));
    })
  );
}

function sameParameters(actual: Record<string, unknown>, wanted: Record<string, string>): boolean {
  const keys = Object.keys(actual);
  return (
    keys.length === Object.keys(wanted).length && keys.every((key) => String(actual[key]) === wanted[key])
  );
}

function describeCause(cause: unknown): string {
  // Duck-typed: fetch's errors may come from another realm (e.g. under jest), where instanceof fails.
  const messageOf = (e: unknown) =>
    typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e);
  const inner =
    typeof cause === 'object' && cause !== null && 'cause' in cause && cause.cause
      ? ` (${messageOf(cause.cause)})`
      : '';
  return `${messageOf(cause)}${inner}`;
}

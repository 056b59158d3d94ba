import { readFileSync, mkdirSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { Unleash, type UnleashConfig } from 'unleash-client';
import { flagNameForModel } from '@aviary/domain';
import {
  BASELINE_VARIANT,
  decodePayloadValue,
  decodeRoutingVariant,
  destroyUnleashClient,
  type DecodedRouting,
} from '@aviary/flags';

const FLAG_PREFIX = flagNameForModel('');

export interface FlagRoutingOptions {
  readonly url: string;
  readonly token?: string | undefined;
  readonly refreshMs: number;
  readonly backupDir: string;
  readonly bootstrapFile?: string | undefined;
  readonly appName?: string;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

/** Why a known model's flag cannot be routed by, as the router last saw it. */
export type FlagFault = 'disabled' | 'missing' | 'undecodable';

export interface DegradedModel {
  readonly model: string;
  readonly fault: FlagFault;
  readonly since: Date;
  /** The version it serves meanwhile: the model's last known baseline. */
  readonly serving: string;
}

export interface FlagRoutingStatus {
  /** Has routing data (fetched, from the backup of an earlier run, or bootstrapped). */
  readonly ready: boolean;
  /** The last fetch from the flag source succeeded. */
  readonly sourceReachable: boolean;
  readonly lastError: string | null;
  readonly lastUpdateAt: Date | null;
  /** Known models whose flag is disabled, gone or unreadable: served from their last known baseline. */
  readonly degraded: readonly DegradedModel[];
}

/** Where the last known baselines are kept, next to unleash-client's own backup. */
const BASELINES_FILE = 'aviary-last-baselines.json';

/**
 * The split, as the router reads it: unleash-client against Unleash or the control plane's built-in
 * source. Evaluation is in memory (a hash per request); polling happens beside the request path.
 * When the source is unreachable the last split keeps serving — kept on disk across restarts, or
 * from a bootstrap file for a router that has never reached the source.
 *
 * Fail safe: a model the router knows whose flag turns up disabled, archived or unreadable (an
 * Unleash user's kill switch, a bad edit) is served by its last known baseline — everyone on the
 * version that was stable — and the router reports itself degraded; only a model it never knew is
 * a 404. The last known baselines are kept on disk across restarts too.
 */
export class FlagRouting {
  private readonly client: Unleash;
  private sourceReachable = false;
  private lastError: string | null = null;
  private lastUpdateAt: Date | null = null;
  private hasData = false;
  /** Per model, a baseline-only routing from the last usable flag. */
  private readonly baselines = new Map<string, DecodedRouting>();
  private readonly degraded = new Map<string, DegradedModel>();

  constructor(private readonly opts: FlagRoutingOptions) {
    mkdirSync(opts.backupDir, { recursive: true });
    this.loadBaselines();
    const config: UnleashConfig = {
      url: opts.url,
      appName: opts.appName ?? 'aviary-router',
      instanceId: `router-${process.pid}`,
      refreshInterval: opts.refreshMs,
      disableMetrics: true,
      backupPath: opts.backupDir,
      timeout: Math.max(1000, Math.min(10_000, opts.refreshMs * 4)),
      ...(opts.token ? { customHeaders: { Authorization: opts.token } } : {}),
      ...(opts.bootstrapFile
        ? { bootstrap: { data: readBootstrap(opts.bootstrapFile) }, bootstrapOverride: false }
        : {}),
    };
    this.client = new Unleash(config);
    this.client.on('error', (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (this.sourceReachable || this.lastError === null)
        opts.log?.('warn', `flag source ${opts.url} unreachable, serving the last known split: ${message}`);
      this.sourceReachable = false;
      this.lastError = message;
    });
    this.client.on('warn', (msg: unknown) => {
      const message = String(msg);
      if (this.lastError !== message) opts.log?.('warn', `flag source: ${message}`);
      this.lastError = message;
    });
    this.client.on('ready', () => {
      this.hasData = true;
      this.inspectFlags();
    });
    this.client.on('changed', () => {
      this.hasData = true;
      this.lastUpdateAt = new Date();
      this.inspectFlags();
    });
    this.client.on('unchanged', () => {
      this.lastUpdateAt = new Date();
    });
    this.client.on('synchronized', () => {
      this.hasData = true;
      this.markReachable();
    });
    // unleash-client has no event for a successful 304 poll before 'unchanged'; both mean reachable.
    this.client.on('unchanged', () => this.markReachable());
    this.client.on('changed', () => this.markReachable());
  }

  /** Resolves once the client has routing data, or after `timeoutMs` (the router starts regardless). */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.hasData) return true;
    // Not events.once(): it rejects on the 'error' a down flag source emits, and down is allowed here.
    const client = this.client;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      function done() {
        clearTimeout(timer);
        client.off('ready', done);
        resolve();
      }
      client.on('ready', done);
    });
    return this.hasData;
  }

  /**
   * The routing decision for one request: which variant this stickiness key gets, or the model's last
   * known baseline when its flag cannot be routed by; null only for a model the router never knew.
   */
  resolve(
    model: string,
    stickinessKey: string,
    properties: Record<string, string> = {},
  ): DecodedRouting | null {
    const decoded = decodeRoutingVariant(
      this.client.getVariant(flagNameForModel(model), { userId: stickinessKey, properties }),
    );
    return decoded ?? this.baselines.get(model) ?? null;
  }

  /**
   * A routing that serves the version with this label (or id) for one request, whatever the split:
   * the model's baseline, candidate or shadowed version as its flag names them now. No fallback and
   * no shadow copy. Null when the flag names no such version.
   */
  forced(model: string, version: string): DecodedRouting | null {
    const feature = this.client.getFeatureToggleDefinition(flagNameForModel(model));
    const routings = (feature?.enabled ? (feature.strategies ?? []) : [])
      .flatMap((s) => s.variants ?? [])
      .map((v) =>
        String(v.payload?.type) === 'json' && v.payload ? decodePayloadValue(v.payload.value) : null,
      )
      .filter((r) => r !== null);
    const known = routings.length > 0 ? routings : [this.baselines.get(model)].filter((r) => r !== undefined);
    const matches = (t: { versionId: string; label: string }) =>
      t.label === version || t.versionId === version;
    for (const r of known) {
      if (matches(r.target))
        return Object.freeze(Object.assign({}, r, { fallback: null, shadow: null, cohort: undefined }));
      if (r.shadow && matches(r.shadow.target))
        return Object.freeze(
          Object.assign({}, r, {
            role: 'candidate' as const,
            target: r.shadow.target,
            fallback: null,
            shadow: null,
          }),
        );
    }
    return null;
  }

  /** Models the router can route: those with a usable flag and those it serves from a last known baseline. */
  models(): string[] {
    const usable = this.client
      .getFeatureToggleDefinitions()
      .filter((f) => f.name.startsWith(FLAG_PREFIX) && f.enabled)
      .map((f) => f.name.slice(FLAG_PREFIX.length));
    return [...new Set([...usable, ...this.baselines.keys()])].sort();
  }

  status(): FlagRoutingStatus {
    return {
      ready: this.hasData,
      sourceReachable: this.sourceReachable,
      lastError: this.lastError,
      lastUpdateAt: this.lastUpdateAt,
      degraded: [...this.degraded.values()],
    };
  }

  close(): void {
    destroyUnleashClient(this.client);
  }

  /**
   * After every change of the flags: remembers each model's baseline from a usable flag, and notes
   * (logging once) the known models whose flag is disabled, missing or unreadable.
   */
  private inspectFlags(): void {
    const now = new Date();
    const seen = new Set<string>();
    let remembered = false;
    for (const feature of this.client.getFeatureToggleDefinitions()) {
      if (!feature.name.startsWith(FLAG_PREFIX)) continue;
      const model = feature.name.slice(FLAG_PREFIX.length);
      seen.add(model);
      const baseline = feature.enabled ? baselineOf(feature.strategies ?? []) : null;
      if (baseline) {
        const known = this.baselines.get(model);
        if (known?.revision !== baseline.revision || known.target.versionId !== baseline.target.versionId) {
          this.baselines.set(model, baseline);
          remembered = true;
        }
        this.recovered(model);
      } else {
        this.fault(model, feature.enabled ? 'undecodable' : 'disabled', now);
      }
    }
    for (const model of this.baselines.keys()) if (!seen.has(model)) this.fault(model, 'missing', now);
    if (remembered) this.saveBaselines();
  }

  private fault(model: string, fault: FlagFault, now: Date): void {
    const baseline = this.baselines.get(model);
    if (!baseline) return;
    if (this.degraded.get(model)?.fault === fault) return;
    this.degraded.set(model, { model, fault, since: now, serving: baseline.target.label });
    this.opts.log?.(
      'warn',
      `flag ${flagNameForModel(model)} is ${fault === 'missing' ? 'missing (archived or deleted)' : fault} in the flag source: serving ${model} from its last known baseline ${baseline.target.label} (revision ${baseline.revision}) until it is usable again`,
    );
  }

  private recovered(model: string): void {
    if (!this.degraded.delete(model)) return;
    this.opts.log?.('info', `flag ${flagNameForModel(model)} is usable again`);
  }

  private loadBaselines(): void {
    try {
      const saved = JSON.parse(readFileSync(join(this.opts.backupDir, BASELINES_FILE), 'utf8')) as unknown;
      if (typeof saved !== 'object' || saved === null) return;
      for (const [model, value] of Object.entries(saved)) {
        const decoded = typeof value === 'string' ? decodePayloadValue(value) : null;
        if (decoded) this.baselines.set(model, decoded);
      }
    } catch {
      // None kept yet, or unreadable: the flag source fills them in.
    }
  }

  private saveBaselines(): void {
    const file = join(this.opts.backupDir, BASELINES_FILE);
    const body = Object.fromEntries([...this.baselines].map(([model, r]) => [model, JSON.stringify(r)]));
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(body));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.opts.log?.('warn', `could not keep the last known baselines in ${file}: ${String(err)}`);
    }
  }

  private markReachable(): void {
    if (!this.sourceReachable && this.lastError !== null)
      this.opts.log?.('info', `flag source ${this.opts.url} reachable again`);
    this.sourceReachable = true;
    this.lastError = null;
  }
}

/** A baseline-only routing from a flag's baseline strategy, or null when it has none that decodes. */
function baselineOf(
  strategies: ReadonlyArray<{
    variants?: ReadonlyArray<{ name: string; payload?: { type: string; value: string } }>;
  }>,
): DecodedRouting | null {
  for (const strategy of strategies) {
    for (const variant of strategy.variants ?? []) {
      if (variant.name !== BASELINE_VARIANT || variant.payload?.type !== 'json') continue;
      const decoded = decodePayloadValue(variant.payload.value);
      // Everyone on the baseline: no shadow copies while the flag cannot be trusted.
      if (decoded?.role === BASELINE_VARIANT)
        return Object.freeze(Object.assign({}, decoded, { candidateWeight: 0, shadow: null }));
    }
  }
  return null;
}

function readBootstrap(file: string): NonNullable<UnleashConfig['bootstrap']>['data'] {
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { features?: unknown } | unknown[];
  const features = Array.isArray(parsed) ? parsed : parsed.features;
  if (!Array.isArray(features))
    throw new Error(
      `AVIARY_FLAGS_BOOTSTRAP_FILE ${file}: expected an Unleash client-API body ({ "features": [...] })`,
    );
  return features as NonNullable<UnleashConfig['bootstrap']>['data'];
}

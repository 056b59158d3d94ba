import { readFileSync, mkdirSync } from 'node:fs';
import { Unleash, type UnleashConfig } from 'unleash-client';
import { flagNameForModel } from '@aviary/domain';
import { decodeRoutingVariant, destroyUnleashClient, type DecodedRouting } from '@aviary/flags';

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

export interface FlagRoutingStatus {
  /** Has routing data (fetched, from the backup of an earlier run, or bootstrapped). */
  readonly ready: boolean;
  /** The last fetch from the flag source succeeded. */
  readonly sourceReachable: boolean;
  readonly lastError: string | null;
  readonly lastUpdateAt: Date | null;
}

/**
 * The split, as the router reads it: unleash-client against Unleash or the control plane's built-in
 * source. Evaluation is in memory (a hash per request); polling happens beside the request path.
 * When the source is unreachable the last split keeps serving — kept on disk across restarts, or
 * from a bootstrap file for a router that has never reached the source.
 */
export class FlagRouting {
  private readonly client: Unleash;
  private sourceReachable = false;
  private lastError: string | null = null;
  private lastUpdateAt: Date | null = null;
  private hasData = false;

  constructor(private readonly opts: FlagRoutingOptions) {
    mkdirSync(opts.backupDir, { recursive: true });
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
    });
    this.client.on('changed', () => {
      this.hasData = true;
      this.lastUpdateAt = new Date();
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

  /** The routing decision for one request: which variant this stickiness key gets. */
  resolve(model: string, stickinessKey: string): DecodedRouting | null {
    return decodeRoutingVariant(this.client.getVariant(flagNameForModel(model), { userId: stickinessKey }));
  }

  /** Models the router currently knows about. */
  models(): string[] {
    return this.client
      .getFeatureToggleDefinitions()
      .filter((f) => f.name.startsWith(FLAG_PREFIX) && f.enabled)
      .map((f) => f.name.slice(FLAG_PREFIX.length))
      .sort();
  }

  status(): FlagRoutingStatus {
    return {
      ready: this.hasData,
      sourceReachable: this.sourceReachable,
      lastError: this.lastError,
      lastUpdateAt: this.lastUpdateAt,
    };
  }

  close(): void {
    destroyUnleashClient(this.client);
  }

  private markReachable(): void {
    if (!this.sourceReachable && this.lastError !== null)
      this.opts.log?.('info', `flag source ${this.opts.url} reachable again`);
    this.sourceReachable = true;
    this.lastError = null;
  }
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

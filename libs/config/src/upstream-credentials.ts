import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UPSTREAM_AUTH_SCHEMES, type UpstreamAuthScheme, type UpstreamTarget } from '@aviary/domain';

/**
 * Upstream credentials: the API keys Aviary sends to model upstreams.
 *
 * A version names a credential (`apiKeyRef`), never a key and never an arbitrary env var: an
 * operator who could name any variable could point a version at their own server and receive the
 * admin token, the database URL or the Unleash token. So a credential's secret comes only from a
 * declared place:
 *
 *   - the env var `AVIARY_UPSTREAM_KEY_<NAME>` (the name upper-cased, `-` as `_`), or
 *   - the file `<AVIARY_UPSTREAM_SECRETS_DIR>/<name>` (a mounted Kubernetes Secret: one key a file).
 *
 * Which credential may be sent where is the admin's decision (the control plane's credentials
 * registry binds each name to an auth scheme and to the upstream hosts it is meant for).
 */

export { UPSTREAM_AUTH_SCHEMES, type UpstreamAuthScheme };

/** A credential's name: also a file name in the secrets directory, so no dots or slashes. */
export const CREDENTIAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
export const CREDENTIAL_ENV_PREFIX = 'AVIARY_UPSTREAM_KEY_';
export const UPSTREAM_SECRETS_DIR_ENV = 'AVIARY_UPSTREAM_SECRETS_DIR';

/** `openai-prod` → `AVIARY_UPSTREAM_KEY_OPENAI_PROD`. */
export function credentialEnvName(name: string): string {
  return CREDENTIAL_ENV_PREFIX + name.toUpperCase().replace(/-/g, '_');
}

/** The request headers that carry `key` under `scheme`. */
export function upstreamAuthHeaders(scheme: UpstreamAuthScheme, key: string): Record<string, string> {
  switch (scheme) {
    case 'bearer':
      return { authorization: `Bearer ${key}` };
    case 'api-key':
      return { 'api-key': key };
    case 'x-api-key':
      return { 'x-api-key': key };
  }
}

/**
 * Whether an upstream URL's host is one a credential may be sent to. Entries are a host name
 * (`api.openai.com`), a host and port (`vllm-b:8000`), or a wildcard for subdomains
 * (`*.openai.azure.com`, which does not match the bare domain).
 */
export function hostAllowed(allowedHosts: readonly string[], url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const hostname = parsed.hostname.toLowerCase();
  const host = parsed.host.toLowerCase();
  return allowedHosts.some((raw) => {
    const entry = raw.toLowerCase();
    if (entry.startsWith('*.')) return hostname.endsWith(entry.slice(1)) && hostname !== entry.slice(2);
    return entry === hostname || entry === host;
  });
}

export interface UpstreamSecretsOptions {
  readonly env?: NodeJS.ProcessEnv | Record<string, string | undefined>;
  /** Defaults to `AVIARY_UPSTREAM_SECRETS_DIR` from `env`. */
  readonly dir?: string | null;
  /** How long a file's value is reused before it is read again (mounted Secrets are updated in place). */
  readonly fileTtlMs?: number;
  readonly now?: () => number;
}

/**
 * Resolves a credential name to its secret from the declared places only. Cheap enough for the
 * router's request path: env values are read once, files at most once per `fileTtlMs`.
 */
export class UpstreamSecrets {
  private readonly env: NodeJS.ProcessEnv | Record<string, string | undefined>;
  private readonly dir: string | null;
  private readonly fileTtlMs: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, { readonly value: string | null; readonly until: number }>();

  constructor(options: UpstreamSecretsOptions = {}) {
    this.env = options.env ?? process.env;
    const dir = options.dir === undefined ? this.env[UPSTREAM_SECRETS_DIR_ENV] : options.dir;
    this.dir = dir && dir.trim() !== '' ? dir.trim() : null;
    this.fileTtlMs = options.fileTtlMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** The secret of credential `name`, or null when it is not declared (or the name is not a credential name). */
  get(name: string): string | null {
    if (!CREDENTIAL_NAME.test(name)) return null;
    const cached = this.cache.get(name);
    const now = this.now();
    if (cached && cached.until > now) return cached.value;
    const value = this.fromEnv(name) ?? this.fromFile(name);
    // An env value never changes while the process runs; a file may, so it is re-read after the TTL.
    this.cache.set(name, { value, until: now + this.fileTtlMs });
    return value;
  }

  /**
   * The headers that authenticate a call to `target`: its credential under its scheme, or none when
   * it names no credential or this process has no secret for it.
   */
  headersFor(target: Pick<UpstreamTarget, 'apiKeyRef' | 'authScheme'>): Record<string, string> {
    const key = target.apiKeyRef ? this.get(target.apiKeyRef) : null;
    return key === null ? {} : upstreamAuthHeaders(target.authScheme ?? 'bearer', key);
  }

  /** Where the secret of `name` would come from, for operators (never the value). */
  describe(name: string): string {
    const file = this.dir ? ` or the file ${join(this.dir, name)}` : '';
    return `the env var ${credentialEnvName(name)}${file}`;
  }

  private fromEnv(name: string): string | null {
    const value = this.env[credentialEnvName(name)];
    return value !== undefined && value.trim() !== '' ? value.trim() : null;
  }

  private fromFile(name: string): string | null {
    if (!this.dir) return null;
    try {
      const value = readFileSync(join(this.dir, name), 'utf8').trim();
      return value === '' ? null : value;
    } catch {
      return null;
    }
  }
}

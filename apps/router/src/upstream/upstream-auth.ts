import type { UpstreamTarget } from '@aviary/domain';

const NONE: Readonly<Record<string, string>> = Object.freeze({});

/** The API key a version's `apiKeyRef` names (an env var), or null. */
export function apiKeyFor(target: UpstreamTarget): string | null {
  return target.apiKeyRef ? (process.env[target.apiKeyRef] ?? null) : null;
}

/**
 * The one place where an upstream call gets its credentials: every call (primary, fallback, shadow)
 * takes its headers from here, nowhere else reads a key. Today the version's `apiKeyRef` names an
 * env var holding a bearer key, read at each call so a rotated secret applies at once.
 */
export function upstreamAuthHeaders(target: UpstreamTarget): Readonly<Record<string, string>> {
  const key = apiKeyFor(target);
  return key ? { authorization: `Bearer ${key}` } : NONE;
}

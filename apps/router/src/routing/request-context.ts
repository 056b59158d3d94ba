import type { IncomingHttpHeaders } from 'node:http';
import { USER_ID_PROPERTY } from '@aviary/domain';
import type { RouterKey } from '../auth/router-keys';

const MAX_VALUE_CHARS = 512;

/**
 * The Unleash context properties a request's cohort rules are evaluated on: every `x-…` header by its
 * lower-case name (Node lower-cases them), and the caller's user id (`x-aviary-user`, else the body's
 * `user`) as `aviaryUserId`. `userId` itself stays the stickiness key the split is bucketed on.
 */
export function cohortProperties(
  headers: IncomingHttpHeaders,
  bodyUser: string | null,
  skip: string,
): Record<string, string> {
  const properties: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith('x-') || name === skip) continue;
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value && value.length <= MAX_VALUE_CHARS) properties[name] = value;
  }
  const user = properties['x-aviary-user'] ?? bodyUser;
  if (user) properties[USER_ID_PROPERTY] = user;
  return properties;
}

/**
 * Who may force a version with the debug header: a router key created with `mayForceVersion`, or one
 * named in AVIARY_FORCE_VERSION_KEYS (by id or name), or anyone with `*` (also when client
 * authentication is off). Otherwise nobody.
 */
export function mayForceVersion(allowed: readonly string[], key: RouterKey | null): boolean {
  if (allowed.includes('*')) return true;
  return key !== null && (key.mayForceVersion || allowed.includes(key.id) || allowed.includes(key.name));
}

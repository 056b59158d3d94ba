import { Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { TokensService } from '../auth/tokens.service';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';

export const STATUS_COOKIE = 'aviary_status';

/** Who is looking at the status page: a token's name, or anyone when the page is public. */
export interface StatusViewer {
  readonly name: string;
  readonly public: boolean;
}

/**
 * Access to the status page: any valid API token (viewer is enough) presented as a Bearer header or
 * the sign-in cookie; everyone when AVIARY_STATUS_PUBLIC is set. The cookie holds the token itself
 * (HttpOnly, SameSite=Lax, path /status) and is checked on every request, so revoking the token
 * signs the page out at once.
 */
@Injectable()
export class StatusAccess {
  constructor(
    private readonly tokens: TokensService,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  get isPublic(): boolean {
    return this.config.status.public;
  }

  async viewer(req: Request): Promise<StatusViewer | null> {
    // Only a Bearer header replaces the cookie: a proxy's Basic auth in front of the page must not.
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    const presented = bearer ?? readCookie(req.headers.cookie, STATUS_COOKIE);
    if (presented) {
      const principal = await this.tokens.authenticate(presented);
      if (principal) return { name: principal.name, public: false };
    }
    return this.isPublic ? { name: 'anyone', public: true } : null;
  }

  /** A token is good for the page when it is known and not revoked (every role can read). */
  async accepts(token: string): Promise<boolean> {
    return token.length > 0 && token.length <= 512 && (await this.tokens.authenticate(token)) !== null;
  }

  signInCookie(token: string, req: Request): string {
    const maxAge = this.config.status.sessionHours * 3600;
    return cookie(`${STATUS_COOKIE}=${encodeURIComponent(token)}; Max-Age=${maxAge}`, req);
  }

  signOutCookie(req: Request): string {
    return cookie(`${STATUS_COOKIE}=; Max-Age=0`, req);
  }
}

/**
 * Lax, not Strict: a status link opened from chat or e-mail is a cross-site navigation, and Strict
 * would arrive without the cookie (the sign-in form again). The page only reads, so Lax's protection
 * (no cookie on cross-site POSTs) is what matters. Secure behind HTTPS, including a TLS-terminating
 * ingress (X-Forwarded-Proto can only make the cookie stricter, so it is safe to believe).
 */
function cookie(value: string, req: Request): string {
  const proto = String(req.headers['x-forwarded-proto'] ?? '')
    .split(',')[0]
    ?.trim();
  const https = req.secure || proto === 'https';
  return `${value}; Path=/status; HttpOnly; SameSite=Lax${https ? '; Secure' : ''}`;
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim()) || null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Where to go after signing in: only a path on the status page itself (no open redirect). */
export function safeNext(next: unknown): string {
  // Model names may hold dots (a model's history page); never a `..` segment.
  return typeof next === 'string' && /^\/status(\/[A-Za-z0-9/_.-]*)?$/.test(next) && !next.includes('..')
    ? next
    : '/status';
}

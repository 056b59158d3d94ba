import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

/** Headers of the router's answers a browser app may read (the OpenAI SDKs read the request id). */
export const EXPOSED_HEADERS = [
  'x-aviary-request-id',
  'x-aviary-model-version',
  'x-aviary-role',
  'server-timing',
  'retry-after',
] as const;

/** How long a browser may reuse a preflight's answer. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * Cross-origin requests from browser apps (CORS) for the origins AVIARY_CORS_ORIGINS lists, or any
 * origin with `*`. A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here,
 * before client authentication (browsers send it without the key); every answer to an allowed
 * origin, errors included, says so and exposes the request id. The request headers a preflight asks
 * for are allowed as asked (the OpenAI SDKs send `authorization` and their `x-stainless-*`). No
 * cookies are involved, so credentials are not allowed. Requests without an `Origin` header
 * (servers, SDKs outside a browser) are not touched. Built on the `cors` package (expressjs).
 */
export class Cors {
  private readonly middleware: ReturnType<typeof cors>;

  constructor(origins: readonly string[]) {
    this.middleware = cors({
      origin: origins.includes('*') ? '*' : [...origins],
      methods: ['GET', 'POST', 'DELETE'],
      exposedHeaders: [...EXPOSED_HEADERS],
      maxAge: PREFLIGHT_MAX_AGE_SECONDS,
      optionsSuccessStatus: 204,
    });
  }

  /** Null when no origin is configured: the router then sends no CORS headers at all. */
  static fromConfig(origins: readonly string[]): Cors | null {
    return origins.length === 0 ? null : new Cors(origins);
  }

  /**
   * Sets the CORS headers of the answer; resolves to false when the request was a preflight and has
   * been answered, true when it goes on to be served.
   */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const goOn = (): void => resolve(true);
      this.middleware(req, res, goOn);
      // A preflight is ended by the middleware without calling on.
      if (res.writableEnded) resolve(false);
    });
  }
}

/**
 * AVIARY_CORS_ORIGINS as origins: `*`, or `scheme://host[:port]` each (what a browser sends in
 * `Origin`: no path, no trailing slash). The problem with the first one that is not, else null.
 */
export function corsOriginProblem(origins: readonly string[]): string | null {
  for (const origin of origins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return `"${origin}" is not an origin (scheme://host[:port], or * for any)`;
    }
    if (url.origin !== origin)
      return `"${origin}" is not an origin as a browser sends it: use "${url.origin}" (no path or trailing slash)`;
  }
  return null;
}

import { z } from 'zod';

export interface HttpUrlOptions {
  /** Shown in the message for a URL that is not http(s). */
  readonly example: string;
  /** Why credentials do not belong in this URL, and what to do instead. */
  readonly credentialsHint: string;
  /** Whether a query string is allowed. */
  readonly query: boolean;
}

/**
 * An absolute http(s) URL an admin or operator gives Aviary to call: never with credentials in it
 * (they would be shown in listings) nor a fragment (meaningless to a server), a query string only
 * where the caller allows one.
 */
export function httpUrl(o: HttpUrlOptions) {
  return z
    .url({ protocol: /^https?$/, message: `must be an http(s) URL, e.g. ${o.example}` })
    .max(2000)
    .superRefine((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return; // z.url() has reported it
      }
      if (url.username || url.password)
        ctx.addIssue({ code: 'custom', message: `must not contain credentials (${o.credentialsHint})` });
      if (!o.query && (url.search || value.includes('?')))
        ctx.addIssue({ code: 'custom', message: 'must not contain a query string' });
      if (url.hash || value.includes('#'))
        ctx.addIssue({ code: 'custom', message: 'must not contain a fragment' });
    });
}

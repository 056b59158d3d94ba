import { hostAllowed, UPSTREAM_AUTH_SCHEMES, upstreamAuthHeaders, UpstreamSecrets } from '@aviary/config';
import type { UpstreamAuthScheme, UpstreamTarget } from '@aviary/domain';
import { z } from 'zod';
import { ControlPlaneFeed, type ControlPlaneFeedStatus } from '../auth/control-plane-feed';
import { coded, UPSTREAM_NOT_ALLOWED, UpstreamError } from './upstream-client';

const feedSchema = z.object({
  version: z.literal(1),
  credentials: z.array(
    z.object({
      name: z.string().min(1),
      authScheme: z.enum(UPSTREAM_AUTH_SCHEMES),
      allowedHosts: z.array(z.string()),
    }),
  ),
});
type Feed = z.infer<typeof feedSchema>;

interface Binding {
  readonly authScheme: UpstreamAuthScheme;
  readonly allowedHosts: readonly string[];
}

/** Why a credential was not sent: its host is not one of its hosts, the control plane does not know it, or no bindings are known yet. */
export type RefusalReason = 'host' | 'undeclared' | 'no_bindings';

/** A version whose credential the router refused to send (shown on /readyz). */
export interface CredentialRefusal {
  readonly model: string;
  readonly version: string;
  readonly credential: string;
  readonly host: string;
  readonly reason: RefusalReason;
  readonly count: number;
  readonly lastAt: Date;
}

export interface CredentialBindingsStatus extends ControlPlaneFeedStatus {
  readonly credentials: number;
  /** Versions refused in the last few minutes (and not served since). */
  readonly refused: readonly CredentialRefusal[];
}

/** Counts refusals (a prom-client Counter in the router). */
export interface RefusalCounter {
  inc(labels: { model: string; credential: string; reason: RefusalReason }): void;
}

export interface CredentialBindingsOptions {
  /** The control plane's feed, e.g. http://cp:8080/api/router/credentials. */
  readonly url: string;
  readonly token?: string | undefined;
  readonly refreshMs: number;
  readonly backupFile: string;
  readonly secrets?: UpstreamSecrets;
  readonly refusals?: RefusalCounter;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  readonly now?: () => number;
}

/** How long a refusal keeps a model degraded on /readyz when nothing is served for it since. */
const REFUSAL_SHOWN_MS = 5 * 60_000;
/** A refusal of the same version to the same host is logged at most this often. */
const REFUSAL_LOG_EVERY_MS = 60_000;

/**
 * Which upstream credential may go where, as the control plane's credentials registry says: each
 * credential's auth scheme and allowed hosts, polled from the control plane (authenticated, and
 * out of reach of whoever can edit flags). A flag payload names a version's upstream URL and
 * credential, but the router sends the credential only to a host of its binding and under its
 * bound scheme; with no bindings known (the control plane never reached, no backup) it sends no
 * credential at all.
 */
export class CredentialBindings {
  private bindings = new Map<string, Binding>();
  /** `<credential> <baseUrl>` → whether the host is allowed (a flag's URLs are few; cleared on update). */
  private readonly decisions = new Map<string, boolean>();
  private readonly refused = new Map<string, { refusal: CredentialRefusal; loggedAt: number }>();
  private readonly feed: ControlPlaneFeed<Feed>;
  private readonly secrets: UpstreamSecrets;
  private readonly now: () => number;

  constructor(private readonly opts: CredentialBindingsOptions) {
    this.secrets = opts.secrets ?? new UpstreamSecrets();
    this.now = opts.now ?? Date.now;
    this.feed = new ControlPlaneFeed({
      name: 'credential bindings',
      url: opts.url,
      token: opts.token,
      refreshMs: opts.refreshMs,
      backupFile: opts.backupFile,
      schema: feedSchema,
      apply: (feed) => this.apply(feed),
      log: opts.log,
    });
  }

  start(timeoutMs: number): Promise<void> {
    return this.feed.start(timeoutMs);
  }

  close(): void {
    this.feed.close();
  }

  /**
   * The headers that authenticate a call to `target` for `model`: none when it names no credential
   * or this process has no secret for it; throws UpstreamError (UPSTREAM_NOT_ALLOWED) when the
   * credential may not be sent to the target's host.
   */
  headersFor(
    target: Pick<UpstreamTarget, 'apiKeyRef' | 'baseUrl' | 'label'>,
    model: string,
  ): Record<string, string> {
    const ref = target.apiKeyRef;
    if (!ref) return {};
    const key = this.secrets.get(ref);
    if (key === null) return {};
    const binding = this.bindings.get(ref);
    const reason: RefusalReason | null = !this.feed.status().ready
      ? 'no_bindings'
      : !binding
        ? 'undeclared'
        : this.allowed(ref, binding, target.baseUrl)
          ? null
          : 'host';
    const refusalKey = `${model}\u0000${target.label}`;
    if (reason === null && binding) {
      this.refused.delete(refusalKey);
      return upstreamAuthHeaders(binding.authScheme, key);
    }
    throw this.refuse(refusalKey, model, target, ref, reason ?? 'undeclared', binding);
  }

  status(): CredentialBindingsStatus {
    const since = this.now() - REFUSAL_SHOWN_MS;
    const refused: CredentialRefusal[] = [];
    for (const [k, { refusal }] of this.refused) {
      if (refusal.lastAt.getTime() < since) this.refused.delete(k);
      else refused.push(refusal);
    }
    return Object.assign({}, this.feed.status(), { credentials: this.bindings.size, refused });
  }

  private allowed(ref: string, binding: Binding, baseUrl: string): boolean {
    const k = `${ref} ${baseUrl}`;
    let ok = this.decisions.get(k);
    if (ok === undefined) {
      ok = hostAllowed(binding.allowedHosts, baseUrl);
      this.decisions.set(k, ok);
    }
    return ok;
  }

  private refuse(
    refusalKey: string,
    model: string,
    target: Pick<UpstreamTarget, 'baseUrl' | 'label'>,
    credential: string,
    reason: RefusalReason,
    binding: Binding | undefined,
  ): UpstreamError {
    const host = hostOf(target.baseUrl);
    const message =
      reason === 'host'
        ? `credential \`${credential}\` may only be sent to ${binding?.allowedHosts.join(', ') || 'no host'}, not to ${host}`
        : reason === 'undeclared'
          ? `credential \`${credential}\` is not declared in the control plane, so it is not sent to ${host}`
          : `the router has no credential bindings from the control plane yet, so credential \`${credential}\` is not sent to ${host}`;
    this.opts.refusals?.inc({ model, credential, reason });
    const now = this.now();
    const previous = this.refused.get(refusalKey);
    const same = previous && previous.refusal.host === host && previous.refusal.credential === credential;
    const logNow = !same || now - previous.loggedAt >= REFUSAL_LOG_EVERY_MS;
    if (logNow)
      this.opts.log?.(
        'warn',
        `upstream_not_allowed: model ${model} version ${target.label}: ${message} (the flag payload names this host; the control plane's credentials registry does not allow it)`,
      );
    this.refused.set(refusalKey, {
      refusal: {
        model,
        version: target.label,
        credential,
        host,
        reason,
        count: (same ? previous.refusal.count : 0) + 1,
        lastAt: new Date(now),
      },
      loggedAt: logNow || !previous ? now : previous.loggedAt,
    });
    return new UpstreamError('connect', message, null, null, coded(UPSTREAM_NOT_ALLOWED, message));
  }

  private apply(feed: Feed): void {
    const next = new Map<string, Binding>();
    for (const c of feed.credentials)
      next.set(c.name, { authScheme: c.authScheme, allowedHosts: c.allowedHosts });
    this.bindings = next;
    this.decisions.clear();
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return JSON.stringify(url);
  }
}

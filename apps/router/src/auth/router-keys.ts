import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ControlPlaneFeed, type ControlPlaneFeedStatus } from './control-plane-feed';

/** A router API key as the router holds it: its id (for evidence), scope and limits; never the key. */
export interface RouterKey {
  readonly id: string;
  readonly name: string;
  /** The models it may call; null = every model. */
  readonly models: ReadonlySet<string> | null;
  readonly requestsPerMinute: number | null;
  readonly tokensPerDay: number | null;
  /** May force a version with the debug header. */
  readonly mayForceVersion: boolean;
}

const feedSchema = z.object({
  version: z.literal(1),
  keys: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string(),
      hash: z.string().regex(/^[0-9a-f]{64}$/),
      models: z.array(z.string()).nullable(),
      requestsPerMinute: z.number().int().positive().nullable(),
      tokensPerDay: z.number().positive().nullable(),
      // Absent from control planes before it existed: no such permission.
      mayForceVersion: z.boolean().default(false),
    }),
  ),
});
type Feed = z.infer<typeof feedSchema>;

export interface RouterKeysStatus extends ControlPlaneFeedStatus {
  readonly keys: number;
}

export interface RouterKeysOptions {
  /** The control plane's key feed, e.g. http://cp:8080/api/router/keys. */
  readonly url: string;
  readonly token?: string | undefined;
  readonly refreshMs: number;
  /** Where the last list is kept, so a restart with the control plane down still authenticates. */
  readonly backupFile: string;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

export function hashKey(presented: string): string {
  return createHash('sha256').update(presented, 'utf8').digest('hex');
}

/** Presented keys whose hash is remembered; past this the memo starts over (a client sends one key). */
const MAX_MEMO = 4096;

/**
 * The router API keys, as the control plane publishes them (hashes, scopes, limits), polled beside
 * the request path: a request is checked against an in-memory map. The sha256 of a key that matched
 * is remembered (a client sends the same key on every request, and the hash was a visible share of
 * the router's CPU per request in the benchmark's profile); only keys that matched an active key are
 * remembered, so random keys cannot fill the memo, and the lookup by hash still runs every time, so
 * a revoked key stops working at the next poll. When the control plane is unreachable the last list
 * keeps working (also across restarts, from the backup file).
 */
export class RouterKeys {
  private byHash = new Map<string, RouterKey>();
  private readonly hashes = new Map<string, string>();
  private readonly feed: ControlPlaneFeed<Feed>;

  constructor(opts: RouterKeysOptions) {
    this.feed = new ControlPlaneFeed(
      Object.assign({}, opts, {
        name: 'router keys',
        schema: feedSchema,
        apply: (feed: Feed) => this.apply(feed),
      }),
    );
  }

  /** Fetches once (waiting at most `timeoutMs`), then keeps polling. */
  start(timeoutMs: number): Promise<void> {
    return this.feed.start(timeoutMs);
  }

  /** The key a request presented, or null when it is not an active key. */
  lookup(presented: string): RouterKey | null {
    const remembered = this.hashes.get(presented);
    if (remembered !== undefined) return this.byHash.get(remembered) ?? null;
    const hash = hashKey(presented);
    const key = this.byHash.get(hash) ?? null;
    if (key) {
      if (this.hashes.size >= MAX_MEMO) this.hashes.clear();
      this.hashes.set(presented, hash);
    }
    return key;
  }

  /** Resolves when the lists taken so far are kept in the backup file. */
  backedUp(): Promise<void> {
    return this.feed.backedUp();
  }

  status(): RouterKeysStatus {
    return Object.assign({}, this.feed.status(), { keys: this.byHash.size });
  }

  close(): void {
    this.feed.close();
  }

  private apply(feed: Feed): void {
    const next = new Map<string, RouterKey>();
    for (const k of feed.keys)
      next.set(k.hash, {
        id: k.id,
        name: k.name,
        models: k.models ? new Set(k.models) : null,
        requestsPerMinute: k.requestsPerMinute,
        tokensPerDay: k.tokensPerDay,
        mayForceVersion: k.mayForceVersion,
      });
    this.byHash = next;
  }
}

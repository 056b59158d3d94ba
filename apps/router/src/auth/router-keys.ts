import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

/** A router API key as the router holds it: its id (for evidence), scope and limits; never the key. */
export interface RouterKey {
  readonly id: string;
  readonly name: string;
  /** The models it may call; null = every model. */
  readonly models: ReadonlySet<string> | null;
  readonly requestsPerMinute: number | null;
  readonly tokensPerDay: number | null;
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
    }),
  ),
});
type Feed = z.infer<typeof feedSchema>;

export interface RouterKeysStatus {
  /** Has a key list (fetched, or from the backup of an earlier run). */
  readonly ready: boolean;
  readonly sourceReachable: boolean;
  readonly lastError: string | null;
  readonly lastUpdateAt: Date | null;
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

/**
 * The router API keys, as the control plane publishes them (hashes, scopes, limits), polled beside
 * the request path: a request is checked against an in-memory map, one sha256 and one lookup. A
 * revoked key stops working at the next poll. When the control plane is unreachable the last list
 * keeps working (also across restarts, from the backup file).
 */
export class RouterKeys {
  private byHash = new Map<string, RouterKey>();
  private etag: string | null = null;
  private hasData = false;
  private sourceReachable = false;
  private lastError: string | null = null;
  private lastUpdateAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly opts: RouterKeysOptions) {
    this.loadBackup();
  }

  /** Fetches once (waiting at most `timeoutMs`), then keeps polling. */
  async start(timeoutMs: number): Promise<void> {
    await Promise.race([this.poll(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.schedule();
  }

  /** The key a request presented, or null when it is not an active key. */
  lookup(presented: string): RouterKey | null {
    return this.byHash.get(hashKey(presented)) ?? null;
  }

  status(): RouterKeysStatus {
    return {
      ready: this.hasData,
      sourceReachable: this.sourceReachable,
      lastError: this.lastError,
      lastUpdateAt: this.lastUpdateAt,
      keys: this.byHash.size,
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.opts.refreshMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    try {
      const res = await fetch(this.opts.url, {
        headers: {
          accept: 'application/json',
          ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          ...(this.etag ? { 'if-none-match': this.etag } : {}),
        },
        signal: AbortSignal.timeout(Math.max(1000, Math.min(10_000, this.opts.refreshMs * 2))),
      });
      if (res.status === 304) return this.reachable();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      const feed = feedSchema.parse(JSON.parse(text));
      this.apply(feed);
      this.etag = res.headers.get('etag');
      this.reachable();
      this.lastUpdateAt = new Date();
      void this.saveBackup(text);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.sourceReachable || this.lastError === null)
        this.opts.log?.(
          'warn',
          `router keys: ${this.opts.url} unreachable, keeping the last list: ${message}`,
        );
      this.sourceReachable = false;
      this.lastError = message;
    }
  }

  private reachable(): void {
    if (!this.sourceReachable && this.lastError !== null)
      this.opts.log?.('info', `router keys: ${this.opts.url} reachable again`);
    this.sourceReachable = true;
    this.lastError = null;
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
      });
    this.byHash = next;
    this.hasData = true;
  }

  private loadBackup(): void {
    try {
      this.apply(feedSchema.parse(JSON.parse(readFileSync(this.opts.backupFile, 'utf8'))));
    } catch {
      // No backup yet (first start) or an unreadable one: wait for the control plane.
    }
  }

  private async saveBackup(text: string): Promise<void> {
    try {
      mkdirSync(dirname(this.opts.backupFile), { recursive: true });
      const tmp = `${this.opts.backupFile}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.opts.backupFile);
    } catch (err) {
      this.opts.log?.(
        'warn',
        `router keys: could not keep a backup in ${this.opts.backupFile}: ${String(err)}`,
      );
    }
  }
}

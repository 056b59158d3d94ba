import { mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';

export interface ControlPlaneFeedStatus {
  /** Has data (fetched, or from the backup of an earlier run). */
  readonly ready: boolean;
  readonly sourceReachable: boolean;
  readonly lastError: string | null;
  readonly lastUpdateAt: Date | null;
}

export interface ControlPlaneFeedOptions<T> {
  /** What the feed is called in log lines (`router keys`, `credential bindings`). */
  readonly name: string;
  /** The control plane's feed, e.g. http://cp:8080/api/router/keys. */
  readonly url: string;
  readonly token?: string | undefined;
  readonly refreshMs: number;
  /** Where the last answer is kept, so a restart with the control plane down still has it. */
  readonly backupFile: string;
  readonly schema: z.ZodType<T>;
  /** Takes a new answer (fetched or from the backup). */
  readonly apply: (feed: T) => void;
  readonly log?: ((level: 'info' | 'warn', message: string) => void) | undefined;
}

let tmpCounter = 0;

/**
 * A JSON feed of the control plane, polled beside the request path (the router's key list, the
 * credential bindings): an ETag makes an unchanged answer a 304, and when the control plane is
 * unreachable the last answer keeps working, also across restarts, from the backup file. Only
 * answers of the authenticated control plane are taken: nothing the flag source says reaches here.
 */
export class ControlPlaneFeed<T> {
  private etag: string | null = null;
  private hasData = false;
  private sourceReachable = false;
  private lastError: string | null = null;
  private lastUpdateAt: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** This feed's backups are written one after another, so the last answer is the one kept. */
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ControlPlaneFeedOptions<T>) {
    this.loadBackup();
  }

  /** Fetches once (waiting at most `timeoutMs`), then keeps polling. */
  async start(timeoutMs: number): Promise<void> {
    await Promise.race([this.poll(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.schedule();
  }

  /** Resolves when the backups of the answers taken so far are written (tests, shutdown). */
  backedUp(): Promise<void> {
    return this.saving;
  }

  status(): ControlPlaneFeedStatus {
    return {
      ready: this.hasData,
      sourceReachable: this.sourceReachable,
      lastError: this.lastError,
      lastUpdateAt: this.lastUpdateAt,
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
      if (this.closed) return; // closed while the fetch was in flight: take and keep nothing
      if (res.status === 304) return this.reachable();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (this.closed) return;
      this.take(this.opts.schema.parse(JSON.parse(text)));
      this.etag = res.headers.get('etag');
      this.reachable();
      this.lastUpdateAt = new Date();
      this.saving = this.saving.then(() => this.saveBackup(text));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.sourceReachable || this.lastError === null)
        this.opts.log?.(
          'warn',
          `${this.opts.name}: ${this.opts.url} unreachable, keeping the last list: ${message}`,
        );
      this.sourceReachable = false;
      this.lastError = message;
    }
  }

  private reachable(): void {
    if (!this.sourceReachable && this.lastError !== null)
      this.opts.log?.('info', `${this.opts.name}: ${this.opts.url} reachable again`);
    this.sourceReachable = true;
    this.lastError = null;
  }

  private take(feed: T): void {
    this.opts.apply(feed);
    this.hasData = true;
  }

  private loadBackup(): void {
    try {
      this.take(this.opts.schema.parse(JSON.parse(readFileSync(this.opts.backupFile, 'utf8'))));
    } catch {
      // No backup yet (first start) or an unreadable one: wait for the control plane.
    }
  }

  private async saveBackup(text: string): Promise<void> {
    try {
      mkdirSync(dirname(this.opts.backupFile), { recursive: true });
      // A temporary file of its own per write: feeds of one process may share a backup file (tests,
      // two routers in one process), and two writes into one temporary file interleave.
      const tmp = `${this.opts.backupFile}.${process.pid}.${++tmpCounter}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.opts.backupFile);
    } catch (err) {
      this.opts.log?.(
        'warn',
        `${this.opts.name}: could not keep a backup in ${this.opts.backupFile}: ${String(err)}`,
      );
    }
  }
}

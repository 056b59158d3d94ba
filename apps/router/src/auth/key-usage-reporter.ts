import { z } from 'zod';
import type { KeyLimits, KeyUsageReport } from './key-limits';

const answerSchema = z.object({
  day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  usage: z.record(z.string(), z.object({ tokens: z.number().nonnegative() })),
});

export interface KeyUsageReporterOptions {
  /** The control plane's usage endpoint, e.g. http://cp:8080/api/router/key-usage. */
  readonly url: string;
  readonly token?: string | undefined;
  readonly intervalMs: number;
  readonly limits: KeyLimits;
  readonly log?: ((level: 'info' | 'warn', message: string) => void) | undefined;
}

export interface KeyUsageReporterStatus {
  readonly reachable: boolean;
  readonly lastError: string | null;
  readonly lastReportAt: Date | null;
}

/**
 * Sends what this router's keys used to the control plane every interval, beside the request path,
 * and hands the totals it answers (all routers together) to KeyLimits: daily token budgets hold for
 * the whole fleet and across restarts. An unanswered report is sent again with the same id (the
 * control plane counts an id once); while the control plane is unreachable the router goes on with
 * the last totals plus what it counted itself. A report the control plane refuses as malformed (4xx)
 * is dropped and logged: sending it again would not help.
 */
export class KeyUsageReporter {
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private reachable = false;
  private lastError: string | null = null;
  private lastReportAt: Date | null = null;
  private inFlight: Promise<void> | null = null;

  constructor(private readonly opts: KeyUsageReporterOptions) {}

  /** Reports once, reading the totals (waiting at most `timeoutMs`), then every interval. */
  async start(timeoutMs: number): Promise<void> {
    await Promise.race([this.report(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    this.schedule();
  }

  /** Sends what is left (shutdown: the last interval's usage is not lost), waiting at most `timeoutMs`. */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const last = (this.inFlight ?? Promise.resolve()).then(() => this.send());
    await Promise.race([last, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  status(): KeyUsageReporterStatus {
    return { reachable: this.reachable, lastError: this.lastError, lastReportAt: this.lastReportAt };
  }

  /** One report and its answer; reports never overlap. */
  report(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.inFlight ??= this.send().finally(() => (this.inFlight = null));
    return this.inFlight;
  }

  private get headers(): Record<string, string> {
    const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (this.opts.token) h.authorization = `Bearer ${this.opts.token}`;
    return h;
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.report().finally(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  private async send(): Promise<void> {
    const report = this.opts.limits.takeReport();
    try {
      const res = await fetch(this.opts.url, {
        method: 'POST',
        headers: this.headers,
        body: JSON.stringify(report),
        signal: AbortSignal.timeout(Math.max(1000, Math.min(10_000, this.opts.intervalMs * 2))),
      });
      const text = await res.text();
      if (
        res.status >= 400 &&
        res.status < 500 &&
        res.status !== 401 &&
        res.status !== 403 &&
        res.status !== 429
      )
        return this.refused(report, res.status, text);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.opts.limits.settle(report.reportId, answerSchema.parse(JSON.parse(text)));
      this.lastReportAt = new Date();
      if (!this.reachable && this.lastError !== null)
        this.opts.log?.('info', `key usage: ${this.opts.url} reachable again`);
      this.reachable = true;
      this.lastError = null;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (this.reachable || this.lastError === null)
        this.opts.log?.(
          'warn',
          `key usage: ${this.opts.url} unreachable, budgets go on with the last totals and this router's own count (report kept to send again): ${message}`,
        );
      this.reachable = false;
      this.lastError = message;
    }
  }

  private refused(report: KeyUsageReport, status: number, body: string): void {
    this.opts.limits.drop(report.reportId);
    const tokens = report.usage.reduce((sum, u) => sum + u.tokens, 0);
    const first = this.lastError !== `HTTP ${status}`;
    this.reachable = true;
    this.lastError = `HTTP ${status}`;
    if (first)
      this.opts.log?.(
        'warn',
        `key usage: the control plane refused a report (HTTP ${status}: ${body.slice(0, 300)}); dropped it (${report.usage.length} entries, ${tokens} tokens), and drops any more it refuses alike`,
      );
  }
}

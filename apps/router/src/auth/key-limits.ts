import { randomUUID } from 'node:crypto';
import type { RouterKey } from './router-keys';

const DAY_MS = 86_400_000;

/** What this router counted for one key on one UTC day, not yet in the control plane's totals. */
export interface KeyUsageEntry {
  readonly keyId: string;
  /** YYYY-MM-DD (UTC). */
  readonly day: string;
  readonly tokens: number;
  readonly requests: number;
}

/** A report to the control plane: sent again with the same id until it is answered. */
export interface KeyUsageReport {
  readonly reportId: string;
  readonly usage: readonly KeyUsageEntry[];
}

/** Every key's totals on a UTC day, all routers together, as the control plane answers them. */
export interface KeyUsageTotals {
  readonly day: string;
  readonly usage: Readonly<Record<string, { readonly tokens: number }>>;
}

interface Count {
  readonly keyId: string;
  readonly day: number;
  tokens: number;
  requests: number;
}

const dayOf = (at: number) => Math.floor(at / DAY_MS);
const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/**
 * Per-key limits. Requests per minute: a token bucket in memory per router replica (bursts up to
 * the minute's worth; N replicas allow N times the rate). Prompt + completion tokens per UTC day:
 * for all routers together — this router counts what its keys use (charged when an answer's usage
 * is known, so one request may overshoot), reports it to the control plane (`takeReport`), and
 * checks the budget against the totals it read back plus what it counted since (`settle`). Between
 * reports other routers' usage is not seen yet: a budget may overshoot by what the other replicas
 * serve in one report interval.
 */
export class KeyLimits {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  /** Counted since the last report was taken, by `${day} ${keyId}`. */
  private local = new Map<string, Count>();
  /** Taken, sent, not answered yet (or its answer lost): sent again as it is. */
  private pending: { readonly report: KeyUsageReport; readonly counts: readonly Count[] } | null = null;
  private shared: { day: number; tokens: ReadonlyMap<string, number> } = { day: -1, tokens: new Map() };
  /** Counts the control plane refused to take (e.g. one without the usage API): still this router's. */
  private refused = new Map<string, Count>();

  /** 0 when the key may send a request now, else the seconds to wait. */
  take(key: RouterKey, now = Date.now()): number {
    const perMinute = key.requestsPerMinute;
    if (perMinute === null) return 0;
    const perMs = perMinute / 60_000;
    const b = this.buckets.get(key.id) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * perMs);
    b.at = now;
    this.buckets.set(key.id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perMs / 1000));
  }

  /** Whether the key has token budget left today, counting every router's reported usage. */
  withinBudget(key: RouterKey, now = Date.now()): boolean {
    if (key.tokensPerDay === null) return true;
    return this.usedToday(key.id, now) < key.tokensPerDay;
  }

  /** Counts an answered request and its tokens (every key: the totals attribute usage too). */
  charge(key: RouterKey, tokens: number, now = Date.now()): void {
    const day = dayOf(now);
    const slot = `${day} ${key.id}`;
    const c = this.local.get(slot) ?? { keyId: key.id, day, tokens: 0, requests: 0 };
    c.requests += 1;
    if (tokens > 0) c.tokens += tokens;
    this.local.set(slot, c);
  }

  /** Tokens the key used today: the last totals, and what this router counted since. */
  usedToday(keyId: string, now = Date.now()): number {
    const day = dayOf(now);
    let used = this.shared.day === day ? (this.shared.tokens.get(keyId) ?? 0) : 0;
    used += this.local.get(`${day} ${keyId}`)?.tokens ?? 0;
    used += this.refused.get(`${day} ${keyId}`)?.tokens ?? 0;
    for (const c of this.pending?.counts ?? []) if (c.day === day && c.keyId === keyId) used += c.tokens;
    return used;
  }

  /** The report to send: the unanswered one again, else what was counted since (possibly nothing). */
  takeReport(): KeyUsageReport {
    if (this.pending) return this.pending.report;
    const counts = [...this.local.values()];
    this.local = new Map();
    const report = {
      reportId: randomUUID(),
      usage: counts.map((c) => ({
        keyId: c.keyId,
        day: isoDay(c.day),
        tokens: c.tokens,
        requests: c.requests,
      })),
    };
    this.pending = { report, counts };
    return report;
  }

  /** The control plane counted the report (its totals include it) and answered today's totals. */
  settle(reportId: string, totals: KeyUsageTotals): void {
    if (this.pending?.report.reportId === reportId) this.pending = null;
    const at = Date.parse(`${totals.day}T00:00:00Z`);
    if (Number.isNaN(at)) return;
    const tokens = new Map<string, number>();
    for (const [keyId, u] of Object.entries(totals.usage)) tokens.set(keyId, u.tokens);
    this.shared = { day: dayOf(at), tokens };
  }

  /**
   * The control plane refused the report (malformed, or no usage API): sending it again would not
   * help. Its counts stay in this router's own budget check, for today.
   */
  drop(reportId: string, now = Date.now()): void {
    if (this.pending?.report.reportId !== reportId) return;
    const today = dayOf(now);
    for (const [slot, c] of this.refused) if (c.day < today) this.refused.delete(slot);
    for (const c of this.pending.counts) {
      if (c.day < today) continue;
      const slot = `${c.day} ${c.keyId}`;
      const kept = this.refused.get(slot) ?? { keyId: c.keyId, day: c.day, tokens: 0, requests: 0 };
      kept.tokens += c.tokens;
      kept.requests += c.requests;
      this.refused.set(slot, kept);
    }
    this.pending = null;
  }

  /** Seconds until the next UTC midnight, when budgets renew. */
  static secondsToReset(now = Date.now()): number {
    return Math.max(1, Math.ceil((DAY_MS - (now % DAY_MS)) / 1000));
  }
}

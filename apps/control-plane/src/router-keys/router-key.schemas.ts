import { z } from 'zod';
import { MODEL_NAME } from '../models/model.schemas';

export const createRouterKeySchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'letters, digits, . _ @ - only'),
  /** Aviary models the key may call; omitted = every model. */
  models: z
    .array(z.string().regex(MODEL_NAME, 'must be a model name'))
    .min(1)
    .max(1000)
    .refine((m) => new Set(m).size === m.length, 'must not repeat a model')
    .optional(),
  /** Requests per minute, per router replica. */
  requestsPerMinute: z.number().int().min(1).max(1_000_000).optional(),
  /** Prompt + completion tokens per UTC day, all routers together (they report their usage). */
  tokensPerDay: z.number().int().min(1).max(1e15).optional(),
  /** May force a version for one request with the debug header (on-call debugging); default false. */
  mayForceVersion: z.boolean().optional(),
});
export type CreateRouterKeyInput = z.output<typeof createRouterKeySchema>;

/** A key as routers receive it (GET /api/router/keys): the hash, never the key. */
export interface PublishedRouterKey {
  readonly id: string;
  readonly name: string;
  /** sha256 (hex) of the key. */
  readonly hash: string;
  /** null: every model. */
  readonly models: readonly string[] | null;
  readonly requestsPerMinute: number | null;
  readonly tokensPerDay: number | null;
  readonly mayForceVersion: boolean;
}

const UTC_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** 2026-02-30 matches the pattern; Date rolls it over to March, PostgreSQL refuses it. */
function isRealDay(day: string): boolean {
  const at = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(at) && new Date(at).toISOString().slice(0, 10) === day;
}

/** What a router reports (POST /api/router/key-usage): what each key used since its last report. */
export const keyUsageReportSchema = z.strictObject({
  /** A fresh UUID per report; a retry of the same report sends the same id (counted once). */
  reportId: z.uuid(),
  usage: z
    .array(
      z.strictObject({
        keyId: z.uuid(),
        day: z
          .string()
          .regex(UTC_DAY, 'must be a UTC day, YYYY-MM-DD')
          .refine((d) => isRealDay(d), 'must be a real day'),
        tokens: z.number().int().min(0).max(1e15),
        requests: z.number().int().min(0).max(1e12),
      }),
    )
    .max(100_000),
});
export type KeyUsageReport = z.output<typeof keyUsageReportSchema>;

/** What routers read back: every key's totals today (UTC), all routers together. */
export interface KeyUsageAnswer {
  readonly day: string;
  readonly counted: boolean;
  readonly usage: Record<string, { readonly tokens: number; readonly requests: number }>;
}

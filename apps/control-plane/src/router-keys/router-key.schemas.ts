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
  /** Prompt + completion tokens per UTC day, per router replica. */
  tokensPerDay: z.number().int().min(1).max(1e15).optional(),
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
}

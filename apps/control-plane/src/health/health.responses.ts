import { z } from 'zod';

/** What the operations endpoints answer (health.controller.ts, api-index.controller.ts). */
export const healthResponse = z.object({ status: z.literal('ok') });

export const readinessResponse = z.looseObject({
  status: z.enum(['ok', 'degraded', 'unavailable']),
  warnings: z
    .array(z.string())
    .optional()
    .describe('Settings an operator must not miss (AVIARY_ANALYSIS=time-only)'),
  checks: z.looseObject({
    analysis: z.looseObject({
      status: z
        .enum(['on', 'off'])
        .describe('off: guardrails are not evaluated, nothing rolls back by itself'),
      mode: z.string(),
      message: z.string().optional(),
    }),
    database: z.looseObject({ status: z.enum(['ok', 'down']), error: z.string().optional() }),
    flags: z.looseObject({ status: z.string() }),
  }),
});

export const apiIndexResponse = z.object({
  name: z.string(),
  version: z.string(),
  docs: z.string().describe('The interactive API documentation'),
  openapi: z.string().describe('This API as an OpenAPI 3 document'),
  resources: z.record(z.string(), z.string()).describe('The collections under /api/v1'),
});

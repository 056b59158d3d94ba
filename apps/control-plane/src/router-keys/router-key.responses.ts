import { z } from 'zod';
import { isoDate, itemsOf } from '../common/openapi';

/** What the router keys API answers (router-keys.controller.ts); documents the OpenAPI. */
export const routerKeyResponse = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  models: z.array(z.string()).nullable().describe('null: every model'),
  requestsPerMinute: z.number().int().nullable(),
  tokensPerDay: z.number().int().nullable(),
  mayForceVersion: z.boolean().describe('May force a version for one request with x-aviary-force-version'),
  createdAt: isoDate,
  revokedAt: isoDate.nullable(),
  usedToday: z
    .object({ day: z.string(), tokens: z.number().int(), requests: z.number().int() })
    .optional()
    .describe('What routers reported for the key today (UTC), all routers together; in lists'),
});
export const createdRouterKeyResponse = routerKeyResponse.extend({
  key: z.string().describe('The value (avr_…): shown this once, never stored'),
});
export const routerKeyListResponse = itemsOf(routerKeyResponse);

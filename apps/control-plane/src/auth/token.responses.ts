import { z } from 'zod';
import { isoDate, itemsOf } from '../common/openapi';

/** What the tokens API answers (tokens.controller.ts); documents the OpenAPI. */
export const tokenResponse = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  role: z.enum(['viewer', 'operator', 'admin']),
  prefix: z.string().describe('The first characters of the value, to recognise it'),
  createdAt: isoDate,
  lastUsedAt: isoDate.nullable(),
  revokedAt: isoDate.nullable(),
});
export const createdTokenResponse = tokenResponse.extend({
  token: z.string().describe('The value (avy_…): shown this once, never stored'),
});
export const tokenListResponse = itemsOf(tokenResponse);

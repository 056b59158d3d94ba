import { z } from 'zod';
import { isoDate, itemsOf } from '../common/openapi';

/** What the credentials API answers (credentials.controller.ts); documents the OpenAPI. */
export const credentialResponse = z.looseObject({
  name: z.string(),
  authScheme: z.string(),
  allowedHosts: z.array(z.string()),
  description: z.string().nullable(),
  secretFrom: z.unknown().describe('Where each Aviary process reads the secret from'),
  envName: z.string(),
  availableToControlPlane: z.boolean(),
  versions: z.number().int().describe('Versions that reference it'),
  createdBy: z.string(),
  createdAt: isoDate,
});
export const credentialListResponse = itemsOf(credentialResponse);

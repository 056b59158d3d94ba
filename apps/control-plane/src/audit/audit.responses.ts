import { z } from 'zod';
import { isoDate, itemsOf } from '../common/openapi';

/** What the audit API answers (audit.controller.ts); documents the OpenAPI. */
export const auditListResponse = itemsOf(
  z.looseObject({
    id: z.string().describe('Page back with ?before=<id>'),
    action: z.string().describe('model.created, version.created, token.revoked, …'),
    target: z.string(),
    actor: z.string().describe('The name of the token that acted'),
    details: z.record(z.string(), z.unknown()),
    at: isoDate,
  }),
);

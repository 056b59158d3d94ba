import { z } from 'zod';
import { isoDate, itemsOf } from '../common/openapi';

/** What the notifications API answers (notifications.controller.ts); documents the OpenAPI. */
export const destinationResponse = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  type: z.enum(['webhook', 'slack']),
  url: z.string(),
  model: z.looseObject({ id: z.uuid(), name: z.string() }).nullable().describe('null: every model'),
  kinds: z.array(z.string()),
  signed: z.boolean(),
  deliveries: z.object({ pending: z.number().int(), delivered: z.number().int(), failed: z.number().int() }),
  createdBy: z.string(),
  createdAt: isoDate,
});
export const createdDestinationResponse = destinationResponse.extend({
  secret: z.string().optional().describe('Webhooks: the signing secret, shown this once'),
});
export const destinationListResponse = itemsOf(destinationResponse);

export const deliveryResponse = z.looseObject({
  id: z.string(),
  destination: z.string(),
  kind: z.string(),
  eventId: z.string().nullable(),
  rolloutId: z.uuid().nullable(),
  message: z.string().nullable(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  nextAttemptAt: isoDate.nullable(),
  lastAttemptAt: isoDate.nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  deliveredAt: isoDate.nullable(),
  createdAt: isoDate,
});
export const deliveryListResponse = itemsOf(deliveryResponse);

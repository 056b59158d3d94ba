import { z } from 'zod';
import { NOTIFICATION_KINDS } from '@aviary/domain';
import { httpUrl } from '../common/http-url';

export const DESTINATION_TYPES = ['webhook', 'slack'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];
export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const DESTINATION_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/**
 * Where notifications are POSTed. http(s) only and no credentials in the URL (they would be shown
 * in listings; a webhook authenticates Aviary by the signature instead), no fragment. A query string
 * is allowed: some receivers take their token there.
 */
const destinationUrl = httpUrl({
  example: 'https://hooks.slack.com/services/…',
  credentialsHint: 'user:password@; a webhook checks the signature instead',
  query: true,
});

export const createDestinationSchema = z.strictObject({
  name: z
    .string()
    .regex(
      DESTINATION_NAME,
      "must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
    ),
  /** `webhook`: Aviary's JSON body, HMAC-signed; `slack`: a Slack incoming-webhook message. */
  type: z.enum(DESTINATION_TYPES),
  url: destinationUrl,
  /** Only this model's rollouts (name or id); omitted: every model. */
  model: z.string().min(1).max(100).optional(),
  /** The notification kinds to send; omitted or empty: every kind, including types not mapped yet (`other`). */
  kinds: z
    .array(z.enum(NOTIFICATION_KINDS))
    .max(NOTIFICATION_KINDS.length)
    .refine((k) => new Set(k).size === k.length, 'must not repeat a kind')
    .default([]),
});
export type CreateDestinationInput = z.output<typeof createDestinationSchema>;

export const listDeliveriesQuery = z.strictObject({
  status: z.enum(DELIVERY_STATUSES).optional(),
  /** Only deliveries with an id below this one (paging back). */
  before: z.coerce.bigint().min(1n).max(9_223_372_036_854_775_807n, 'must be at most 2^63 - 1').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
export type ListDeliveriesQuery = z.output<typeof listDeliveriesQuery>;

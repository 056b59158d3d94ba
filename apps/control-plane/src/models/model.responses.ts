import { z } from 'zod';
import { isoDate, itemsOf } from '../common/openapi';

/** What the models API answers (the presenters in models.controller.ts); documents the OpenAPI. */
const versionRef = z.object({ id: z.uuid(), label: z.string() });

export const versionResponse = z.looseObject({
  id: z.uuid(),
  label: z.string(),
  upstreamBaseUrl: z.string(),
  upstreamModel: z.string(),
  timeoutMs: z.number().int(),
  apiKeyRef: z.string().nullable().describe('The name of the credential it sends, never the key'),
  endpoints: z.array(z.string()).nullable().describe('null: every endpoint'),
  maxResponseBytes: z.number().int().nullable(),
  totalTimeoutMs: z.number().int().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  status: z.string().describe('registered, shadow, canary, stable, retired, rolled-back'),
  createdAt: isoDate,
});

export const modelResponse = z.looseObject({
  id: z.uuid(),
  name: z.string(),
  description: z.string().nullable(),
  stableVersion: versionRef.nullable(),
  versions: z.array(versionRef.extend({ status: z.string() })),
  activeRollout: z.looseObject({ id: z.uuid() }).nullable(),
  createdAt: isoDate,
});

export const modelListResponse = itemsOf(modelResponse);
export const versionListResponse = itemsOf(versionResponse);

/** GET …/versions/{a}/diff/{b}: what a request served by b instead of a would notice. */
export const versionDiffResponse = z.object({
  from: z.string(),
  to: z.string(),
  identical: z.boolean(),
  changes: z.array(z.object({ field: z.string(), from: z.unknown(), to: z.unknown() })),
  systemPrompt: z
    .array(z.object({ op: z.enum([' ', '+', '-']), text: z.string() }))
    .nullable()
    .describe('The system prompt as a line diff; null when it did not change'),
});

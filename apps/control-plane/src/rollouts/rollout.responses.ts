import { z } from 'zod';
import { ROLLOUT_PHASES } from '@aviary/domain';
import { isoDate, itemsOf } from '../common/openapi';

/** What the rollouts API answers (rollout.presenter.ts); documents the OpenAPI. */
const versionRef = z.looseObject({ id: z.uuid(), label: z.string() });

export const rolloutResponse = z.looseObject({
  id: z.uuid(),
  model: z.looseObject({ id: z.uuid(), name: z.string() }),
  baseline: versionRef,
  candidate: versionRef,
  phase: z.enum(ROLLOUT_PHASES),
  step: z.looseObject({
    index: z.number().int().describe('-1 before the start'),
    total: z.number().int(),
    current: z.looseObject({ type: z.string() }).nullable(),
    description: z.string().nullable(),
    startedAt: isoDate.nullable(),
    minDurationElapsesAt: isoDate.nullable(),
    gate: z.boolean().describe('An approval gate: moves on only when an operator promotes'),
    deadline: z
      .looseObject({ at: isoDate.nullable(), policy: z.string(), exceededAt: isoDate.nullable() })
      .nullable(),
  }),
  analysis: z.string().describe('guardrails or time-only'),
  watch: z.looseObject({ status: z.string() }).nullable(),
  split: z.looseObject({
    candidateWeight: z.number().describe('Percent of users the candidate serves'),
    shadowSampleRate: z.number().nullable(),
  }),
  plan: z.looseObject({ steps: z.array(z.looseObject({ type: z.string() })) }),
  guardrails: z.unknown(),
  shadowGate: z.unknown(),
  message: z.string().nullable(),
  publication: z.unknown().optional().describe('On answers to actions that changed the split'),
  version: z.number().int().describe('Also the ETag: send it as If-Match'),
  createdBy: z.string(),
  createdAt: isoDate,
  updatedAt: isoDate,
});

export const rolloutListResponse = itemsOf(rolloutResponse).extend({
  nextCursor: z.uuid().nullable().describe('Pass as ?cursor= for the next page; null on the last'),
});

export const rolloutEventListResponse = itemsOf(
  z.looseObject({
    id: z.string(),
    type: z.string(),
    fromPhase: z.string().nullable(),
    toPhase: z.string().nullable(),
    stepIndex: z.number().int().nullable(),
    actor: z.string(),
    automatic: z.boolean(),
    reason: z.string().nullable(),
    message: z.string().nullable(),
    evidence: z.unknown(),
    at: isoDate,
  }),
);

export const analysisResponse = z.looseObject({
  rolloutId: z.uuid(),
  evaluatedAt: isoDate,
  stepIndex: z.number().int(),
  step: z.looseObject({ type: z.string() }).nullable(),
  candidateRole: z.enum(['shadow', 'candidate']),
  verdict: z.string().describe('Successful, Failed, Inconclusive, Error'),
  summary: z.string(),
});

export const rolloutRefResponse = z.looseObject({
  id: z.uuid(),
  model: z.string(),
  phase: z.enum(ROLLOUT_PHASES),
  createdAt: isoDate,
  matchedBy: z.enum(['model', 'id']),
});

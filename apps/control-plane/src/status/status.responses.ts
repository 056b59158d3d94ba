import { z } from 'zod';
import { ROLLOUT_PHASES } from '@aviary/domain';
import { isoDate } from '../common/openapi';

/** What the status page's data API answers (status.service.ts): its stable outline. */
const rolloutSummary = z.looseObject({
  id: z.uuid(),
  model: z.string(),
  baseline: z.string(),
  candidate: z.string(),
  phase: z.enum(ROLLOUT_PHASES),
});

export const statusOverviewResponse = z.looseObject({
  generatedAt: isoDate,
  models: z.array(
    z.looseObject({
      name: z.string(),
      description: z.string().nullable(),
      stableVersion: z.string().nullable(),
      rollouts: z.array(rolloutSummary),
    }),
  ),
});

export const statusRolloutResponse = z.looseObject({
  generatedAt: isoDate,
  rollout: rolloutSummary,
  timeline: z.array(z.unknown()),
  analysis: z.unknown().describe('The step comparison, as GET /api/v1/rollouts/{id}/analysis'),
  series: z.unknown(),
  examples: z.array(z.unknown()).describe('Shadow pairs: only for signed-in viewers'),
  decisions: z.array(z.looseObject({ id: z.string(), at: isoDate, type: z.string(), actor: z.string() })),
});

export const statusModelHistoryResponse = z.looseObject({
  generatedAt: isoDate,
  model: z.looseObject({
    name: z.string(),
    description: z.string().nullable(),
    stableVersion: z.string().nullable(),
  }),
  summary: z.unknown().describe('How many rollouts ended how'),
  rollouts: z.array(
    rolloutSummary.extend({
      startedAt: isoDate.nullable(),
      attempts: z.array(z.looseObject({ number: z.number().int() })),
      ending: z.unknown().describe('How the last attempt ended; null while it runs'),
    }),
  ),
});

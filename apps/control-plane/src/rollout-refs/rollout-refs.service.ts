import { Injectable } from '@nestjs/common';
import { DomainError } from '@aviary/domain';
import { type RolloutRefRow, RolloutRefRepository } from './rollout-ref.repository';

/** What people type for a rollout: its id, the start of its id (like git), or its model's name. */
export const ROLLOUT_ID_PREFIX = /^[0-9a-f][0-9a-f-]{3,35}$/;
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

@Injectable()
export class RolloutRefsService {
  constructor(private readonly refs: RolloutRefRepository) {}

  /**
   * A model name means that model's newest rollout (its active one, when it has one). Otherwise the
   * rollout whose id starts with `ref`: 409 when several do (naming them), 404 when none does. A model
   * name wins over an id prefix that happens to look the same.
   */
  async resolve(ref: string): Promise<RolloutRefRow & { matchedBy: 'model' | 'id' }> {
    const lower = ref.toLowerCase();
    if (MODEL_NAME.test(ref)) {
      const newest = await this.refs.newestOfModel(ref);
      if (newest) return { ...newest, matchedBy: 'model' };
    }
    if (!ROLLOUT_ID_PREFIX.test(lower))
      throw new DomainError(
        'NOT_FOUND',
        `no model ${JSON.stringify(ref)} with rollouts, and it is not a rollout id or the first 4+ characters of one`,
      );
    const matches = await this.refs.byIdPrefix(lower, 6);
    const [first] = matches;
    if (!first) throw new DomainError('NOT_FOUND', `no rollout id starts with ${JSON.stringify(ref)}`);
    if (matches.length > 1)
      throw new DomainError(
        'CONFLICT',
        `${JSON.stringify(ref)} matches several rollouts (${matches
          .slice(0, 5)
          .map((m) => `${m.id} ${m.model}`)
          .join(', ')}${matches.length > 5 ? ', …' : ''}); give more characters`,
        { candidates: matches.slice(0, 5).map((m) => m.id) },
      );
    return { ...first, matchedBy: 'id' };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';

export interface RolloutRefRow {
  readonly id: string;
  readonly model: string;
  readonly phase: string;
  readonly createdAt: Date;
}

@Injectable()
export class RolloutRefRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /** The model's rollouts, newest first (the active one, if any, is always the newest). */
  async newestOfModel(model: string): Promise<RolloutRefRow | null> {
    const r = await this.prisma.rollout.findFirst({
      where: { model: { name: model } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      select: { id: true, phase: true, createdAt: true, model: { select: { name: true } } },
    });
    return r ? { id: r.id, phase: r.phase, createdAt: r.createdAt, model: r.model.name } : null;
  }

  /** Rollouts whose id starts with `prefix` (lowercase hex and dashes only), newest first. */
  byIdPrefix(prefix: string, limit: number): Promise<RolloutRefRow[]> {
    return this.prisma.$queryRaw<RolloutRefRow[]>`
      SELECT r.id::text AS id, m.name AS model, r.phase::text AS phase, r.created_at AS "createdAt"
        FROM rollouts r JOIN models m ON m.id = r.model_id
       WHERE r.id::text LIKE ${`${prefix}%`}
       ORDER BY r.created_at DESC, r.id DESC
       LIMIT ${limit}`;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';

export interface NewRolloutEvent {
  readonly rolloutId: string;
  readonly type: string;
  readonly fromPhase?: string | null;
  readonly toPhase?: string | null;
  readonly stepIndex?: number | null;
  readonly actor: string;
  readonly automatic: boolean;
  readonly reason?: string | null;
  readonly message: string;
  readonly evidence?: Record<string, unknown>;
}

export type RolloutEventRecord = Prisma.RolloutEventGetPayload<object>;

@Injectable()
export class RolloutEventRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async append(event: NewRolloutEvent, db: Db = this.prisma): Promise<void> {
    await db.rolloutEvent.create({
      data: { ...event, evidence: (event.evidence ?? {}) as Prisma.InputJsonValue },
    });
  }

  list(rolloutId: string, opts: { afterId?: bigint; limit: number }): Promise<RolloutEventRecord[]> {
    return this.prisma.rolloutEvent.findMany({
      where: { rolloutId, ...(opts.afterId !== undefined ? { id: { gt: opts.afterId } } : {}) },
      orderBy: { id: 'asc' },
      take: opts.limit,
    });
  }

  /** The rollout a model-level happening (a flag publish failure) is best filed under. */
  async latestRolloutOfModel(modelId: string, db: Db = this.prisma): Promise<string | null> {
    const r = await db.rollout.findFirst({
      where: { modelId },
      orderBy: { createdAt: 'desc' },
      select: { id: true },
    });
    return r?.id ?? null;
  }
}

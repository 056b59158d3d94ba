import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';
import { type ListRolloutsQuery } from './rollout.schemas';

const versionRef = { select: { id: true, label: true, status: true } } as const;
export const rolloutInclude = {
  model: { select: { id: true, name: true } },
  baselineVersion: versionRef,
  candidateVersion: versionRef,
} as const;
export type RolloutRecord = Prisma.RolloutGetPayload<{ include: typeof rolloutInclude }>;

@Injectable()
export class RolloutRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  findById(id: string, db: Db = this.prisma): Promise<RolloutRecord | null> {
    return db.rollout.findUnique({ where: { id }, include: rolloutInclude });
  }

  findActiveByModel(modelId: string, db: Db = this.prisma): Promise<RolloutRecord | null> {
    return db.rollout.findFirst({ where: { modelId, active: true }, include: rolloutInclude });
  }

  /** A new step's revision; a new attempt (start, retry) also begins the guardrails' pooled window there. */
  async setStepRevision(db: Db, id: string, revision: number, newAttempt = false): Promise<void> {
    await db.rollout.update({
      where: { id },
      data: { stepRevision: revision, ...(newAttempt ? { attemptRevision: revision } : {}) },
    });
  }

  create(db: Db, data: Prisma.RolloutUncheckedCreateInput): Promise<RolloutRecord> {
    return db.rollout.create({ data, include: rolloutInclude });
  }

  async list(q: ListRolloutsQuery, modelId: string | undefined): Promise<RolloutRecord[]> {
    return this.prisma.rollout.findMany({
      where: {
        ...(modelId ? { modelId } : {}),
        ...(q.phase ? { phase: q.phase } : {}),
        ...(q.active !== undefined ? { active: q.active } : {}),
      },
      include: rolloutInclude,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit,
      ...(q.cursor ? { cursor: { id: q.cursor }, skip: 1 } : {}),
    });
  }

  /** Ids of rollouts the scheduler should look at. */
  async progressing(): Promise<RolloutRecord[]> {
    return this.prisma.rollout.findMany({ where: { phase: 'Progressing' }, include: rolloutInclude });
  }

  /**
   * Writes a new state only if nobody else changed the rollout since `expectedVersion` was read.
   * Returns false when someone did (the caller answers 409).
   */
  async updateIfVersion(
    db: Db,
    id: string,
    expectedVersion: number,
    data: Prisma.RolloutUncheckedUpdateManyInput,
  ): Promise<boolean> {
    const res = await db.rollout.updateMany({
      where: { id, version: expectedVersion },
      data: { ...data, version: { increment: 1 } },
    });
    return res.count === 1;
  }

  setVersionStatus(
    db: Db,
    versionId: string,
    status: Prisma.ModelVersionUpdateInput['status'],
  ): Promise<unknown> {
    return db.modelVersion.update({ where: { id: versionId }, data: { status } });
  }
}

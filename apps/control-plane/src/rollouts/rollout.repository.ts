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

  /** The rollouts the scheduler watches: every one that serves (or shadows) the candidate. */
  async serving(): Promise<RolloutRecord[]> {
    return this.prisma.rollout.findMany({
      where: { phase: { in: ['Progressing', 'Paused'] } },
      include: rolloutInclude,
    });
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

  /** The completed rollout that made `versionId` the model's stable version (the newest, if several). */
  lastCompletedTo(db: Db, modelId: string, versionId: string): Promise<RolloutRecord | null> {
    return db.rollout.findFirst({
      where: { modelId, phase: 'Healthy', candidateVersionId: versionId },
      orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
      include: rolloutInclude,
    });
  }

  async setWatchStatus(
    db: Db,
    id: string,
    status: 'watching' | 'regressed' | 'passed' | 'reverted',
  ): Promise<void> {
    await db.rollout.update({ where: { id }, data: { watchStatus: status, version: { increment: 1 } } });
  }

  /** The model's stable version now (the truth a retry and a completion act on). */
  async stableVersionOf(db: Db, modelId: string): Promise<{ id: string; label: string } | null> {
    const model = await db.model.findUnique({
      where: { id: modelId },
      select: { stableVersion: { select: { id: true, label: true } } },
    });
    return model?.stableVersion ?? null;
  }

  setVersionStatus(
    db: Db,
    versionId: string,
    status: Prisma.ModelVersionUpdateInput['status'],
  ): Promise<unknown> {
    return db.modelVersion.update({ where: { id: versionId }, data: { status } });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';

const credentialSelect = {
  name: true,
  authScheme: true,
  allowedHosts: true,
  description: true,
  createdBy: true,
  createdAt: true,
  _count: { select: { versions: true } },
} as const;
export type CredentialRecord = Prisma.UpstreamCredentialGetPayload<{ select: typeof credentialSelect }>;

/** Serialises credential creation across replicas, so two names that share an env var cannot race in. */
const CREATE_LOCK_KEY = 0x61766372;

@Injectable()
export class CredentialRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  find(name: string, db: Db = this.prisma): Promise<CredentialRecord | null> {
    return db.upstreamCredential.findUnique({ where: { name }, select: credentialSelect });
  }

  list(): Promise<CredentialRecord[]> {
    return this.prisma.upstreamCredential.findMany({ select: credentialSelect, orderBy: { name: 'asc' } });
  }

  /**
   * Creates it unless `clashes` finds an existing credential it must not sit beside (checked and
   * created under one lock); returns that credential instead.
   */
  createUnlessClash(
    data: Prisma.UpstreamCredentialCreateInput,
    clashes: (existing: readonly CredentialRecord[]) => CredentialRecord | undefined,
  ): Promise<{ created: CredentialRecord } | { clash: CredentialRecord }> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${CREATE_LOCK_KEY}::bigint)`;
      const clash = clashes(await tx.upstreamCredential.findMany({ select: credentialSelect }));
      if (clash) return { clash };
      return { created: await tx.upstreamCredential.create({ data, select: credentialSelect }) };
    });
  }

  /** Deletes it unless a version references it; false when one does. */
  async deleteUnused(name: string): Promise<boolean> {
    const res = await this.prisma.upstreamCredential.deleteMany({ where: { name, versions: { none: {} } } });
    return res.count === 1;
  }
}

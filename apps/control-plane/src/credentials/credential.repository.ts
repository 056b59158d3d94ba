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

@Injectable()
export class CredentialRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  find(name: string, db: Db = this.prisma): Promise<CredentialRecord | null> {
    return db.upstreamCredential.findUnique({ where: { name }, select: credentialSelect });
  }

  list(): Promise<CredentialRecord[]> {
    return this.prisma.upstreamCredential.findMany({ select: credentialSelect, orderBy: { name: 'asc' } });
  }

  create(data: Prisma.UpstreamCredentialCreateInput): Promise<CredentialRecord> {
    return this.prisma.upstreamCredential.create({ data, select: credentialSelect });
  }

  /** Deletes it unless a version references it; false when one does. */
  async deleteUnused(name: string): Promise<boolean> {
    const res = await this.prisma.upstreamCredential.deleteMany({ where: { name, versions: { none: {} } } });
    return res.count === 1;
  }
}

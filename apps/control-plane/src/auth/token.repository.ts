import { Inject, Injectable } from '@nestjs/common';
import { type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Role } from './roles';

export interface TokenRecord {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly prefix: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

@Injectable()
export class TokenRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async findActiveByHash(tokenHash: string): Promise<TokenRecord | null> {
    return this.prisma.apiToken.findFirst({ where: { tokenHash, revokedAt: null } });
  }

  async create(data: {
    id: string;
    name: string;
    role: Role;
    tokenHash: string;
    prefix: string;
  }): Promise<TokenRecord> {
    return this.prisma.apiToken.create({ data });
  }

  async upsertByName(data: {
    id: string;
    name: string;
    role: Role;
    tokenHash: string;
    prefix: string;
  }): Promise<void> {
    await this.prisma.apiToken.upsert({
      where: { name: data.name },
      create: data,
      update: { tokenHash: data.tokenHash, prefix: data.prefix, role: data.role, revokedAt: null },
    });
  }

  async countActiveAdmins(): Promise<number> {
    return this.prisma.apiToken.count({ where: { role: 'admin', revokedAt: null } });
  }

  async list(): Promise<TokenRecord[]> {
    return this.prisma.apiToken.findMany({ orderBy: { createdAt: 'asc' } });
  }

  async revoke(id: string, at: Date): Promise<TokenRecord | null> {
    const found = await this.prisma.apiToken.findUnique({ where: { id } });
    if (!found) return null;
    return this.prisma.apiToken.update({ where: { id }, data: { revokedAt: found.revokedAt ?? at } });
  }

  async touch(id: string, at: Date): Promise<void> {
    await this.prisma.apiToken.update({ where: { id }, data: { lastUsedAt: at } });
  }
}

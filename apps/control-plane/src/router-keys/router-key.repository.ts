import { Inject, Injectable } from '@nestjs/common';
import { type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';

export interface RouterKeyRecord {
  readonly id: string;
  readonly name: string;
  readonly keyHash: string;
  readonly prefix: string;
  readonly models: string[];
  readonly requestsPerMinute: number | null;
  readonly tokensPerDay: bigint | null;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

export interface NewRouterKey {
  readonly id: string;
  readonly name: string;
  readonly keyHash: string;
  readonly prefix: string;
  readonly models: string[];
  readonly requestsPerMinute: number | null;
  readonly tokensPerDay: bigint | null;
}

@Injectable()
export class RouterKeyRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  create(data: NewRouterKey): Promise<RouterKeyRecord> {
    return this.prisma.routerKey.create({ data });
  }

  list(): Promise<RouterKeyRecord[]> {
    return this.prisma.routerKey.findMany({ orderBy: { createdAt: 'asc' } });
  }

  active(): Promise<RouterKeyRecord[]> {
    return this.prisma.routerKey.findMany({ where: { revokedAt: null }, orderBy: { id: 'asc' } });
  }

  findByName(name: string): Promise<RouterKeyRecord | null> {
    return this.prisma.routerKey.findUnique({ where: { name } });
  }

  async revoke(id: string, at: Date): Promise<RouterKeyRecord | null> {
    const found = await this.prisma.routerKey.findUnique({ where: { id } });
    if (!found) return null;
    return this.prisma.routerKey.update({ where: { id }, data: { revokedAt: found.revokedAt ?? at } });
  }

  /** A named key's new value (the previous one stops working), created if missing. */
  async upsertByName(data: NewRouterKey): Promise<RouterKeyRecord> {
    return this.prisma.routerKey.upsert({
      where: { name: data.name },
      create: data,
      update: {
        keyHash: data.keyHash,
        prefix: data.prefix,
        models: data.models,
        requestsPerMinute: data.requestsPerMinute,
        tokensPerDay: data.tokensPerDay,
        revokedAt: null,
      },
    });
  }
}

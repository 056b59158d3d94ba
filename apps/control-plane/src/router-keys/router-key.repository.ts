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
  readonly mayForceVersion: boolean;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

/** What one router counted for one key on one UTC day since its last report. */
export interface KeyUsageEntry {
  readonly keyId: string;
  /** YYYY-MM-DD (UTC). */
  readonly day: string;
  readonly tokens: number;
  readonly requests: number;
}

export interface KeyUsageTotal {
  readonly keyId: string;
  readonly tokens: bigint;
  readonly requests: bigint;
}

export interface NewRouterKey {
  readonly id: string;
  readonly name: string;
  readonly keyHash: string;
  readonly prefix: string;
  readonly models: string[];
  readonly requestsPerMinute: number | null;
  readonly tokensPerDay: bigint | null;
  readonly mayForceVersion: boolean;
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

  /**
   * Adds a router's usage report, once: a report id already counted (the router retried a report
   * whose answer it lost) adds nothing. Entries of keys that do not exist (deleted since) are dropped.
   * Reports older than two days are forgotten (a router retries for seconds, not days).
   */
  async recordUsage(reportId: string, entries: readonly KeyUsageEntry[]): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const fresh = await tx.$executeRaw`
        INSERT INTO router_usage_reports (id) VALUES (${reportId}::uuid) ON CONFLICT (id) DO NOTHING`;
      if (fresh === 0) return false;
      if (entries.length > 0)
        await tx.$executeRaw`
          INSERT INTO router_key_usage (key_id, day, tokens, requests, updated_at)
          SELECT u.key_id, u.day, sum(u.tokens), sum(u.requests), now()
          FROM unnest(${entries.map((e) => e.keyId)}::uuid[], ${entries.map((e) => e.day)}::date[],
                      ${entries.map((e) => String(e.tokens))}::bigint[],
                      ${entries.map((e) => String(e.requests))}::bigint[]) AS u(key_id, day, tokens, requests)
          JOIN router_keys k ON k.id = u.key_id
          GROUP BY u.key_id, u.day
          ON CONFLICT (key_id, day) DO UPDATE SET
            tokens = router_key_usage.tokens + EXCLUDED.tokens,
            requests = router_key_usage.requests + EXCLUDED.requests,
            updated_at = now()`;
      await tx.$executeRaw`
        DELETE FROM router_usage_reports WHERE received_at < now() - interval '2 days'`;
      return true;
    });
  }

  /** Every key's usage on a UTC day (YYYY-MM-DD). */
  usageOn(day: string): Promise<KeyUsageTotal[]> {
    return this.prisma.$queryRaw<KeyUsageTotal[]>`
      SELECT key_id AS "keyId", tokens, requests FROM router_key_usage WHERE day = ${day}::date`;
  }
}

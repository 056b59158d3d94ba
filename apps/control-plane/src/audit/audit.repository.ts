import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';

export interface NewAuditEvent {
  readonly action: string;
  readonly target: string;
  readonly actor: string;
  readonly details?: Record<string, unknown>;
}

export type AuditEventRecord = Prisma.AuditEventGetPayload<object>;

/**
 * Admin actions that belong to no rollout (the decision log has those): models, versions, API tokens,
 * router keys, credentials, notification destinations. Written after the change commits; never a secret.
 */
@Injectable()
export class AuditRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  async append(event: NewAuditEvent, db: Db = this.prisma): Promise<void> {
    await db.auditEvent.create({
      data: { ...event, details: (event.details ?? {}) as Prisma.InputJsonValue },
    });
  }

  /** Newest first; `before` pages back. */
  list(opts: { before?: bigint; limit: number }): Promise<AuditEventRecord[]> {
    return this.prisma.auditEvent.findMany({
      where: opts.before !== undefined ? { id: { lt: opts.before } } : {},
      orderBy: { id: 'desc' },
      take: opts.limit,
    });
  }
}

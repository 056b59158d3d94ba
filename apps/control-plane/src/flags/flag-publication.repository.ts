import { Inject, Injectable } from '@nestjs/common';
import { type ModelRouting } from '@aviary/domain';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { type Db } from '../models/model.repository';
import { buildRouting, VERSION_FOR_ROUTING_SELECT, type VersionForRouting } from './routing.builder';
import { rowToState } from '../rollouts/rollout.mapper';

export interface PublicationRow {
  readonly modelId: string;
  readonly revision: number;
  readonly routing: ModelRouting;
  readonly publishedRevision: number | null;
  readonly publishedAt: Date | null;
  readonly lastError: string | null;
  readonly lastErrorAt: Date | null;
  readonly failures: number;
  readonly drift: string | null;
  readonly driftDetail: string | null;
  readonly driftAt: Date | null;
  readonly checkedAt: Date | null;
}

const rowSelect = {
  modelId: true,
  revision: true,
  routing: true,
  publishedRevision: true,
  publishedAt: true,
  lastError: true,
  lastErrorAt: true,
  failures: true,
  drift: true,
  driftDetail: true,
  driftAt: true,
  checkedAt: true,
} as const;

function toRow(r: Prisma.FlagPublicationGetPayload<{ select: typeof rowSelect }>): PublicationRow {
  return { ...r, routing: r.routing as unknown as ModelRouting };
}

/** Whether the flag source has not yet accepted the row's latest routing. */
export function isPending(row: Pick<PublicationRow, 'revision' | 'publishedRevision'>): boolean {
  return row.publishedRevision === null || row.publishedRevision < row.revision;
}

const versionFields = VERSION_FOR_ROUTING_SELECT;

@Injectable()
export class FlagPublicationRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  /**
   * Recomputes a model's routing from the committed state and stages it for publishing, in the
   * caller's transaction: the database stays the source of truth whatever the flag source does.
   */
  async stage(db: Db, modelId: string): Promise<ModelRouting | null> {
    const model = await db.model.findUniqueOrThrow({
      where: { id: modelId },
      select: { id: true, name: true, stableVersionId: true },
    });
    if (!model.stableVersionId) return null;
    const stable: VersionForRouting = await db.modelVersion.findUniqueOrThrow({
      where: { id: model.stableVersionId },
      select: versionFields,
    });
    const active = await db.rollout.findFirst({
      where: { modelId, active: true },
      include: { baselineVersion: { select: versionFields }, candidateVersion: { select: versionFields } },
    });
    const watching = active
      ? null
      : await db.rollout.findFirst({
          where: { modelId, watchStatus: 'watching', watchUntil: { gt: new Date() } },
          orderBy: { watchStartedAt: 'desc' },
          select: { id: true },
        });
    // Lock the row (or create it) so concurrent stagers serialise on the revision counter.
    const existing = await db.$queryRaw<
      { revision: number }[]
    >`SELECT revision FROM flag_publications WHERE model_id = ${modelId}::uuid FOR UPDATE`;
    const revision = (existing[0]?.revision ?? 0) + 1;
    const routing = buildRouting({
      model,
      stable,
      rollout: active
        ? {
            id: active.id,
            state: rowToState(active),
            baseline: active.baselineVersion,
            candidate: active.candidateVersion,
          }
        : null,
      watchRolloutId: watching?.id ?? null,
      revision,
    });
    const json = routing as unknown as Prisma.InputJsonValue;
    await db.flagPublication.upsert({
      where: { modelId },
      create: { modelId, revision, routing: json },
      update: { revision, routing: json },
    });
    return routing;
  }

  async pending(): Promise<PublicationRow[]> {
    const rows = await this.prisma.$queryRaw<{ model_id: string }[]>`
      SELECT model_id FROM flag_publications WHERE published_revision IS NULL OR published_revision < revision`;
    if (rows.length === 0) return [];
    const found = await this.prisma.flagPublication.findMany({
      where: { modelId: { in: rows.map((r) => r.model_id) } },
      select: rowSelect,
    });
    return found.map(toRow);
  }

  async all(): Promise<PublicationRow[]> {
    return (
      await this.prisma.flagPublication.findMany({ orderBy: { modelId: 'asc' }, select: rowSelect })
    ).map(toRow);
  }

  async find(modelId: string, db: Db = this.prisma): Promise<PublicationRow | null> {
    const r = await db.flagPublication.findUnique({ where: { modelId }, select: rowSelect });
    return r ? toRow(r) : null;
  }

  /**
   * Takes the model's publishing lease for `leaseMs` if its routing is pending and nobody else holds
   * the lease (or `owner` already does), and returns the row as it is now. A short statement of its
   * own: the flag source is called with no database connection held, so a hung flag source cannot
   * starve the pool (the embedded database has one connection). Replaces a transaction-scoped
   * advisory lock that held its connection for the whole call.
   */
  async claim(modelId: string, owner: string, leaseMs: number): Promise<PublicationRow | null> {
    const claimed = await this.prisma.$queryRaw<{ model_id: string }[]>`
      UPDATE flag_publications
         SET lease_until = now() + make_interval(secs => ${leaseMs / 1000}::float8), lease_owner = ${owner}
       WHERE model_id = ${modelId}::uuid
         AND (published_revision IS NULL OR published_revision < revision)
         AND (lease_until IS NULL OR lease_until < now() OR lease_owner = ${owner})
      RETURNING model_id`;
    if (claimed.length === 0) return null;
    return this.find(modelId);
  }

  /** Records success (only if nothing newer was published meanwhile) and gives the lease back. */
  async markPublished(db: Db, modelId: string, revision: number, at: Date, owner: string): Promise<void> {
    await db.flagPublication.updateMany({
      where: { modelId, OR: [{ publishedRevision: null }, { publishedRevision: { lt: revision } }] },
      data: { publishedRevision: revision, publishedAt: at, lastError: null, lastErrorAt: null, failures: 0 },
    });
    await this.release(db, modelId, owner);
  }

  /** Records a failed attempt, gives the lease back, and returns the failures in this streak. */
  async markFailed(db: Db, modelId: string, error: string, at: Date, owner: string): Promise<number> {
    const updated = await db.flagPublication.update({
      where: { modelId },
      data: { lastError: error.slice(0, 2000), lastErrorAt: at, failures: { increment: 1 } },
      select: { failures: true },
    });
    await this.release(db, modelId, owner);
    return updated.failures;
  }

  async release(db: Db, modelId: string, owner: string): Promise<void> {
    await db.flagPublication.updateMany({
      where: { modelId, leaseOwner: owner },
      data: { leaseUntil: null, leaseOwner: null },
    });
  }

  /**
   * Records what a read-back of the flag source found. True only for the caller that changed it (a
   * new drift, or another kind), so with several replicas one of them logs and acts.
   */
  async recordDrift(modelId: string, drift: string, detail: string, at: Date): Promise<boolean> {
    const res = await this.prisma.flagPublication.updateMany({
      where: { modelId, OR: [{ drift: null }, { drift: { not: drift } }] },
      data: { drift, driftDetail: detail.slice(0, 2000), driftAt: at, checkedAt: at },
    });
    return res.count === 1;
  }

  /** The flag source holds what was published again. True for the caller that cleared a drift. */
  async clearDrift(modelId: string, at: Date): Promise<boolean> {
    const res = await this.prisma.flagPublication.updateMany({
      where: { modelId, drift: { not: null } },
      data: { drift: null, driftDetail: null, checkedAt: at },
    });
    await this.prisma.flagPublication.updateMany({ where: { modelId }, data: { checkedAt: at } });
    return res.count === 1;
  }

  /** Makes the reconciler publish the current routing again (the flag source no longer holds it). */
  async republish(modelId: string): Promise<void> {
    await this.prisma.flagPublication.updateMany({
      where: { modelId },
      data: { publishedRevision: null },
    });
  }

  transaction<T>(fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
    return this.prisma.$transaction(fn);
  }
}

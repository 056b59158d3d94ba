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
}

function toRow(r: Prisma.FlagPublicationGetPayload<object>): PublicationRow {
  return { ...r, routing: r.routing as unknown as ModelRouting };
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
    });
    return found.map(toRow);
  }

  async all(): Promise<PublicationRow[]> {
    return (await this.prisma.flagPublication.findMany({ orderBy: { modelId: 'asc' } })).map(toRow);
  }

  async find(modelId: string, db: Db = this.prisma): Promise<PublicationRow | null> {
    const r = await db.flagPublication.findUnique({ where: { modelId } });
    return r ? toRow(r) : null;
  }

  /** Records success only if nothing newer was published meanwhile. */
  async markPublished(db: Db, modelId: string, revision: number, at: Date): Promise<void> {
    await db.flagPublication.updateMany({
      where: { modelId, OR: [{ publishedRevision: null }, { publishedRevision: { lt: revision } }] },
      data: { publishedRevision: revision, publishedAt: at, lastError: null, lastErrorAt: null, failures: 0 },
    });
  }

  async markFailed(db: Db, modelId: string, error: string, at: Date): Promise<number> {
    const updated = await db.flagPublication.update({
      where: { modelId },
      data: { lastError: error.slice(0, 2000), lastErrorAt: at, failures: { increment: 1 } },
      select: { failures: true },
    });
    return updated.failures;
  }

  /** Serialises publishing of one model across control-plane replicas, for the duration of `fn`. */
  async withModelLock<T>(
    modelId: string,
    fn: (tx: Prisma.TransactionClient) => Promise<T>,
    timeoutMs: number,
  ): Promise<T | undefined> {
    return this.prisma.$transaction(
      async (tx) => {
        const [row] = await tx.$queryRaw<
          { locked: boolean }[]
        >`SELECT pg_try_advisory_xact_lock(hashtext(${`aviary-flag:${modelId}`})) AS locked`;
        if (!row?.locked) return undefined;
        return fn(tx);
      },
      { timeout: timeoutMs, maxWait: timeoutMs },
    );
  }
}

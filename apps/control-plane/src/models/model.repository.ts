import { Inject, Injectable } from '@nestjs/common';
import { type Prisma, type PrismaClient } from '@aviary/persistence';
import { PRISMA } from '../database/database.tokens';
import { isUuid } from '../common/id.pipe';

export type Db = PrismaClient | Prisma.TransactionClient;

const versionSelect = {
  id: true,
  modelId: true,
  label: true,
  upstreamBaseUrl: true,
  upstreamModel: true,
  timeoutMs: true,
  apiKeyRef: true,
  endpoints: true,
  maxResponseBytes: true,
  totalTimeoutMs: true,
  systemPrompt: true,
  promptVariables: true,
  defaultParameters: true,
  enforcedParameters: true,
  metadata: true,
  inputUsdPerMTok: true,
  outputUsdPerMTok: true,
  status: true,
  createdAt: true,
} as const;
export type VersionRecord = Prisma.ModelVersionGetPayload<{ select: typeof versionSelect }>;

const modelInclude = {
  versions: { select: versionSelect, orderBy: { createdAt: 'asc' } },
  rollouts: { where: { active: true }, select: { id: true, phase: true, stepIndex: true } },
} as const;
export type ModelRecord = Prisma.ModelGetPayload<{ include: typeof modelInclude }>;

/** `ref` is a model's name or id. */
function byRef(ref: string): Prisma.ModelWhereUniqueInput {
  return isUuid(ref) ? { id: ref.toLowerCase() } : { name: ref };
}

@Injectable()
export class ModelRepository {
  constructor(@Inject(PRISMA) private readonly prisma: PrismaClient) {}

  findByRef(ref: string, db: Db = this.prisma): Promise<ModelRecord | null> {
    return db.model.findUnique({ where: byRef(ref), include: modelInclude });
  }

  list(): Promise<ModelRecord[]> {
    return this.prisma.model.findMany({ include: modelInclude, orderBy: { name: 'asc' } });
  }

  create(data: { id: string; name: string; description: string | null }): Promise<ModelRecord> {
    return this.prisma.model.create({ data, include: modelInclude });
  }

  createVersion(db: Db, data: Prisma.ModelVersionUncheckedCreateInput): Promise<VersionRecord> {
    return db.modelVersion.create({ data, select: versionSelect });
  }

  findVersion(modelId: string, ref: string, db: Db = this.prisma): Promise<VersionRecord | null> {
    return db.modelVersion.findFirst({
      where: isUuid(ref) ? { modelId, id: ref.toLowerCase() } : { modelId, label: ref },
      select: versionSelect,
    });
  }

  setPrices(
    db: Db,
    versionId: string,
    prices: { inputUsdPerMTok: number; outputUsdPerMTok: number } | null,
  ): Promise<VersionRecord> {
    return db.modelVersion.update({
      where: { id: versionId },
      data: {
        inputUsdPerMTok: prices?.inputUsdPerMTok ?? null,
        outputUsdPerMTok: prices?.outputUsdPerMTok ?? null,
      },
      select: versionSelect,
    });
  }

  /** Whether routers serve the version now: the stable version, or either side of an active rollout. */
  async isRouted(db: Db, modelId: string, versionId: string): Promise<boolean> {
    const model = await db.model.findUnique({ where: { id: modelId }, select: { stableVersionId: true } });
    if (model?.stableVersionId === versionId) return true;
    const active = await db.rollout.count({
      where: {
        modelId,
        active: true,
        OR: [{ baselineVersionId: versionId }, { candidateVersionId: versionId }],
      },
    });
    return active > 0;
  }

  /** Serialises writes that touch a model row (see ModelsService.createVersion). */
  async lockForUpdate(db: Prisma.TransactionClient, modelId: string): Promise<void> {
    await db.$queryRaw`SELECT 1 FROM models WHERE id = ${modelId}::uuid FOR UPDATE`;
  }

  setStable(db: Db, modelId: string, versionId: string): Promise<unknown> {
    return db.model.update({ where: { id: modelId }, data: { stableVersionId: versionId } });
  }

  transaction<T>(
    fn: (tx: Prisma.TransactionClient) => Promise<T>,
    options?: { readonly maxWait?: number; readonly timeout?: number },
  ): Promise<T> {
    return this.prisma.$transaction(fn, options);
  }
}

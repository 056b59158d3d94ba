import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DomainError } from '@aviary/domain';
import { isUniqueViolation, type Prisma } from '@aviary/persistence';
import { FlagPublicationRepository } from '../flags/flag-publication.repository';
import { FlagReconciler } from '../flags/flag-reconciler.service';
import { type CreateModelInput, type CreateVersionInput } from './model.schemas';
import { type ModelRecord, ModelRepository, type VersionRecord } from './model.repository';

@Injectable()
export class ModelsService {
  constructor(
    private readonly models: ModelRepository,
    private readonly publications: FlagPublicationRepository,
    private readonly reconciler: FlagReconciler,
  ) {}

  async create(input: CreateModelInput): Promise<ModelRecord> {
    try {
      return await this.models.create({
        id: randomUUID(),
        name: input.name,
        description: input.description ?? null,
      });
    } catch (err) {
      if (isUniqueViolation(err))
        throw new DomainError('CONFLICT', `a model named ${JSON.stringify(input.name)} already exists`, {
          field: 'name',
        });
      throw err;
    }
  }

  list(): Promise<ModelRecord[]> {
    return this.models.list();
  }

  async get(ref: string): Promise<ModelRecord> {
    const model = await this.models.findByRef(ref);
    if (!model) throw new DomainError('NOT_FOUND', `model ${JSON.stringify(ref)} does not exist`);
    return model;
  }

  /** Registers a version. A model's first version becomes its stable version and starts serving. */
  async createVersion(modelRef: string, input: CreateVersionInput): Promise<VersionRecord> {
    const model = await this.get(modelRef);
    let becameStable = false;
    const version = await this.models.transaction(async (tx) => {
      let created: VersionRecord;
      try {
        created = await this.models.createVersion(tx, {
          id: randomUUID(),
          modelId: model.id,
          label: input.label,
          upstreamBaseUrl: input.upstreamBaseUrl,
          upstreamModel: input.upstreamModel,
          timeoutMs: input.timeoutMs,
          apiKeyRef: input.apiKeyRef ?? null,
          endpoints: input.endpoints ?? [],
          maxResponseBytes: input.maxResponseBytes ?? null,
          totalTimeoutMs: input.totalTimeoutMs ?? null,
          metadata: input.metadata as Prisma.InputJsonValue,
        });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new DomainError(
            'CONFLICT',
            `model ${model.name} already has a version labelled ${JSON.stringify(input.label)}`,
            { field: 'label' },
          );
        }
        throw err;
      }
      const fresh = await this.models.findByRef(model.id, tx);
      if (fresh && !fresh.stableVersionId) {
        await this.models.setStable(tx, model.id, created.id);
        await tx.modelVersion.update({ where: { id: created.id }, data: { status: 'stable' } });
        await this.publications.stage(tx, model.id);
        becameStable = true;
        return { ...created, status: 'stable' as const };
      }
      return created;
    });
    if (becameStable) await this.reconciler.reconcile();
    return version;
  }

  async getVersion(modelRef: string, versionRef: string): Promise<VersionRecord> {
    const model = await this.get(modelRef);
    const version = await this.models.findVersion(model.id, versionRef);
    if (!version)
      throw new DomainError(
        'NOT_FOUND',
        `version ${JSON.stringify(versionRef)} of model ${model.name} does not exist`,
      );
    return version;
  }
}

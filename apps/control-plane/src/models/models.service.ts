import { Inject, Injectable } from '@nestjs/common';
import { hostAllowed } from '@aviary/config';
import { randomUUID } from 'node:crypto';
import { type Actor, diffVersions, DomainError, type VersionDiff } from '@aviary/domain';
import { isUniqueViolation, type Prisma } from '@aviary/persistence';
import { AuditRepository } from '../audit/audit.repository';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { CredentialsService } from '../credentials/credentials.service';
import { FlagPublicationRepository } from '../flags/flag-publication.repository';
import { FlagReconciler } from '../flags/flag-reconciler.service';
import { type CreateModelInput, type CreateVersionInput, type PricesInput } from './model.schemas';
import { type ModelRecord, ModelRepository, type VersionRecord } from './model.repository';
import { versionSettings } from './version.settings';

const REGISTRATION_TRANSACTION = { maxWait: 10_000, timeout: 20_000 } as const;

@Injectable()
export class ModelsService {
  constructor(
    private readonly models: ModelRepository,
    private readonly publications: FlagPublicationRepository,
    private readonly reconciler: FlagReconciler,
    private readonly credentials: CredentialsService,
    private readonly audit: AuditRepository,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async create(input: CreateModelInput, actor: Actor): Promise<ModelRecord> {
    try {
      const created = await this.models.create({
        id: randomUUID(),
        name: input.name,
        description: input.description ?? null,
      });
      await this.audit.append({
        action: 'model.created',
        target: created.name,
        actor: actor.name,
        details: { id: created.id, description: created.description },
      });
      return created;
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
  async createVersion(modelRef: string, input: CreateVersionInput, actor: Actor): Promise<VersionRecord> {
    const model = await this.get(modelRef);
    this.assertUpstreamHostAllowed(input.upstreamBaseUrl);
    if (input.apiKeyRef !== undefined)
      await this.credentials.assertUsable(input.apiKeyRef, input.upstreamBaseUrl);
    let becameStable = false;
    const version = await this.models.transaction(async (tx) => {
      // One version registration per model at a time: the insert's foreign key share-locks the
      // model row and making the first version stable updates it, so two first versions registered
      // at once would each hold the share lock the other's update waits for (a deadlock).
      await this.models.lockForUpdate(tx, model.id);
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
          systemPrompt: input.systemPrompt ?? null,
          promptVariables: input.promptVariables ?? {},
          defaultParameters: input.defaultParameters ?? {},
          enforcedParameters: input.enforcedParameters ?? {},
          metadata: input.metadata as Prisma.InputJsonValue,
          ...storedPrices(input.prices ?? null),
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
      // Registrations of one model queue on its row lock: room for a burst of them.
    }, REGISTRATION_TRANSACTION);
    await this.audit.append({
      action: 'version.created',
      target: `${model.name}/${version.label}`,
      actor: actor.name,
      details: {
        id: version.id,
        upstreamBaseUrl: version.upstreamBaseUrl,
        upstreamModel: version.upstreamModel,
        apiKeyRef: version.apiKeyRef,
        becameStable,
      },
    });
    if (becameStable) await this.reconciler.publishNow(model.id).catch(() => null);
    return version;
  }

  /**
   * Sets (or with null clears) a version's prices, in the audit log. A version routers serve gets a
   * new routing revision so their outcome events carry the new cost from their next poll on (the
   * guardrails compare arms within a revision, so a price change mid-rollout splits no comparison).
   */
  async setPrices(
    modelRef: string,
    versionRef: string,
    prices: PricesInput | null,
    actor: string,
  ): Promise<VersionRecord> {
    const model = await this.get(modelRef);
    const version = await this.getVersion(model.id, versionRef);
    let routed = false;
    const updated = await this.models.transaction(async (tx) => {
      await this.models.lockForUpdate(tx, model.id);
      const after = await this.models.setPrices(tx, version.id, toStored(prices));
      routed = await this.models.isRouted(tx, model.id, version.id);
      if (routed) await this.publications.stage(tx, model.id);
      await this.audit.append(
        {
          action: prices ? 'version.prices_set' : 'version.prices_cleared',
          target: `${model.name}/${version.label}`,
          actor,
          details: {
            versionId: version.id,
            before: presentPrices(version),
            after: presentPrices(after),
          },
        },
        tx,
      );
      return after;
    }, REGISTRATION_TRANSACTION);
    if (routed) await this.reconciler.publishNow(model.id).catch(() => null);
    return updated;
  }

  /** AVIARY_UPSTREAM_HOSTS, when set, is the only set of hosts versions may call. */
  private assertUpstreamHostAllowed(upstreamBaseUrl: string): void {
    const allowed = this.config.upstreamHosts;
    if (allowed === null || hostAllowed(allowed, upstreamBaseUrl)) return;
    throw new DomainError(
      'INVALID_REFERENCE',
      `upstream host ${new URL(upstreamBaseUrl).host} is not in AVIARY_UPSTREAM_HOSTS (${allowed.join(', ')})`,
      { issues: [{ field: 'upstreamBaseUrl', message: 'host is not allowed by AVIARY_UPSTREAM_HOSTS' }] },
    );
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

  /** What changes for a request served by version `b` instead of `a` (the same model's). */
  async diffVersions(modelRef: string, a: string, b: string): Promise<VersionDiff> {
    const from = await this.getVersion(modelRef, a);
    const to = await this.getVersion(modelRef, b);
    return diffVersions(versionSettings(from), versionSettings(to));
  }
}

function toStored(p: PricesInput | null): { inputUsdPerMTok: number; outputUsdPerMTok: number } | null {
  return p ? { inputUsdPerMTok: p.inputPerMillionTokens, outputUsdPerMTok: p.outputPerMillionTokens } : null;
}

function storedPrices(p: PricesInput | null): {
  inputUsdPerMTok: number | null;
  outputUsdPerMTok: number | null;
} {
  const s = toStored(p);
  return { inputUsdPerMTok: s?.inputUsdPerMTok ?? null, outputUsdPerMTok: s?.outputUsdPerMTok ?? null };
}

/** A version's prices as the API shows them; null when it has none. */
export function presentPrices(v: {
  readonly inputUsdPerMTok: number | null;
  readonly outputUsdPerMTok: number | null;
}): { currency: 'USD'; inputPerMillionTokens: number; outputPerMillionTokens: number } | null {
  if (v.inputUsdPerMTok === null || v.outputUsdPerMTok === null) return null;
  return {
    currency: 'USD',
    inputPerMillionTokens: v.inputUsdPerMTok,
    outputPerMillionTokens: v.outputUsdPerMTok,
  };
}

import { Injectable } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Actor, DomainError } from '@aviary/domain';
import { isUniqueViolation } from '@aviary/persistence';
import { AuditRepository } from '../audit/audit.repository';
import { ModelRepository } from '../models/model.repository';
import {
  type CreateRouterKeyInput,
  type KeyUsageAnswer,
  type KeyUsageReport,
  type PublishedRouterKey,
} from './router-key.schemas';
import {
  type KeyUsageTotal,
  type NewRouterKey,
  type RouterKeyRecord,
  RouterKeyRepository,
} from './router-key.repository';

export const ROUTER_KEY_PREFIX = 'avr_';

/** sha256 hex: what routers compare a presented key against (the same function on both sides). */
export function hashRouterKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Router API keys: created (the value shown once), listed, revoked, and published to routers as
 * hashes with their scope and limits. Routers never reach the database: they poll the published list.
 */
@Injectable()
export class RouterKeysService {
  constructor(
    private readonly keys: RouterKeyRepository,
    private readonly models: ModelRepository,
    private readonly audit: AuditRepository,
  ) {}

  async create(input: CreateRouterKeyInput, actor: Actor): Promise<{ key: string; record: RouterKeyRecord }> {
    await this.checkModels(input.models ?? []);
    const key = generate();
    try {
      const record = await this.keys.create(this.row(input, key));
      await this.audit.append({
        action: 'router_key.created',
        target: record.name,
        actor: actor.name,
        details: { id: record.id, models: input.models ?? null },
      });
      return { key, record };
    } catch (err) {
      if (isUniqueViolation(err))
        throw new DomainError('CONFLICT', `a router key named ${JSON.stringify(input.name)} already exists`, {
          field: 'name',
        });
      throw err;
    }
  }

  list(): Promise<RouterKeyRecord[]> {
    return this.keys.list();
  }

  async revoke(id: string, actor: Actor): Promise<RouterKeyRecord> {
    const revoked = await this.keys.revoke(id, new Date());
    if (!revoked) throw new DomainError('NOT_FOUND', `router key ${JSON.stringify(id)} does not exist`);
    await this.audit.append({
      action: 'router_key.revoked',
      target: revoked.name,
      actor: actor.name,
      details: { id: revoked.id },
    });
    return revoked;
  }

  /** A fresh value for a named key (e.g. the embedded demo's), the previous value revoked. */
  async rotate(input: CreateRouterKeyInput): Promise<string> {
    const key = generate();
    await this.keys.upsertByName(this.row(input, key));
    return key;
  }

  /** The active keys as routers receive them. */
  async published(): Promise<PublishedRouterKey[]> {
    return (await this.keys.active()).map((k) => ({
      id: k.id,
      name: k.name,
      hash: k.keyHash,
      models: k.models.length > 0 ? k.models : null,
      requestsPerMinute: k.requestsPerMinute,
      tokensPerDay: k.tokensPerDay === null ? null : Number(k.tokensPerDay),
      mayForceVersion: k.mayForceVersion,
    }));
  }

  /**
   * A router's usage report, counted once per report id, answered with every key's totals today
   * (UTC): what each router checks a daily token budget against, plus what it counted since.
   */
  async recordUsage(report: KeyUsageReport, now = new Date()): Promise<KeyUsageAnswer> {
    const counted = await this.keys.recordUsage(report.reportId, report.usage);
    const day = utcDay(now);
    return { day, counted, usage: byKey(await this.keys.usageOn(day)) };
  }

  /** Every key's usage today (UTC), for the admin list. */
  async usageToday(now = new Date()): Promise<{ day: string; usage: KeyUsageAnswer['usage'] }> {
    const day = utcDay(now);
    return { day, usage: byKey(await this.keys.usageOn(day)) };
  }

  private row(input: CreateRouterKeyInput, key: string): NewRouterKey {
    return {
      id: randomUUID(),
      name: input.name,
      keyHash: hashRouterKey(key),
      prefix: key.slice(0, 8),
      models: input.models ?? [],
      requestsPerMinute: input.requestsPerMinute ?? null,
      tokensPerDay: input.tokensPerDay === undefined ? null : BigInt(input.tokensPerDay),
      mayForceVersion: input.mayForceVersion ?? false,
    };
  }

  /** A key scoped to a model that does not exist is a typo, not a plan. */
  private async checkModels(names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      if (!(await this.models.findByRef(name))) {
        const message = `model ${JSON.stringify(name)} does not exist`;
        throw new DomainError('INVALID_REFERENCE', `models[${i}]: ${message}`, {
          issues: [{ field: `models[${i}]`, message }],
        });
      }
    }
  }
}

function generate(): string {
  return `${ROUTER_KEY_PREFIX}${randomBytes(24).toString('base64url')}`;
}

const utcDay = (at: Date) => at.toISOString().slice(0, 10);

function byKey(totals: readonly KeyUsageTotal[]): KeyUsageAnswer['usage'] {
  const out: Record<string, { tokens: number; requests: number }> = {};
  for (const t of totals) out[t.keyId] = { tokens: Number(t.tokens), requests: Number(t.requests) };
  return out;
}

import { Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { type Actor, DomainError } from '@aviary/domain';
import { isUniqueViolation } from '@aviary/persistence';
import { AuditRepository } from '../audit/audit.repository';
import { type Principal, type Role } from './roles';
import { type TokenRecord, TokenRepository } from './token.repository';

export const BOOTSTRAP_ADMIN_NAME = 'bootstrap-admin';
const TOKEN_PREFIX = 'avy_';
/** lastUsedAt is informational; writing it on every request would put a DB write on every call. */
const TOUCH_EVERY_MS = 60_000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(24).toString('base64url')}`;
}

@Injectable()
export class TokensService {
  private readonly logger = new Logger(TokensService.name);
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly tokens: TokenRepository,
    private readonly audit: AuditRepository,
  ) {}

  async authenticate(presented: string): Promise<Principal | null> {
    const record = await this.tokens.findActiveByHash(hashToken(presented));
    if (!record) return null;
    const now = Date.now();
    if ((this.touched.get(record.id) ?? 0) + TOUCH_EVERY_MS < now) {
      this.touched.set(record.id, now);
      this.tokens
        .touch(record.id, new Date(now))
        .catch((err: unknown) => this.logger.warn(`could not record token use: ${String(err)}`));
    }
    return { tokenId: record.id, name: record.name, role: record.role };
  }

  /** Creates a token; the plain value is returned once and never stored. */
  async create(name: string, role: Role, actor: Actor): Promise<{ token: string; record: TokenRecord }> {
    const token = generateToken();
    try {
      const record = await this.tokens.create({
        id: randomUUID(),
        name,
        role,
        tokenHash: hashToken(token),
        prefix: token.slice(0, 8),
      });
      await this.audit.append({
        action: 'token.created',
        target: name,
        actor: actor.name,
        details: { id: record.id, role, prefix: record.prefix },
      });
      return { token, record };
    } catch (err) {
      if (isUniqueViolation(err))
        throw new DomainError('CONFLICT', `a token named ${JSON.stringify(name)} already exists`, {
          field: 'name',
        });
      throw err;
    }
  }

  list(): Promise<TokenRecord[]> {
    return this.tokens.list();
  }

  async revoke(id: string, actor: Actor): Promise<TokenRecord> {
    const revoked = await this.tokens.revoke(id, new Date());
    if (!revoked) throw new DomainError('NOT_FOUND', `token ${JSON.stringify(id)} does not exist`);
    await this.audit.append({
      action: 'token.revoked',
      target: revoked.name,
      actor: actor.name,
      details: { id: revoked.id, role: revoked.role, prefix: revoked.prefix },
    });
    return revoked;
  }

  /**
   * Issues a fresh value for a named service token (e.g. the embedded router's viewer token),
   * revoking the previous value: nothing needs to remember it across restarts.
   */
  async rotate(name: string, role: Role): Promise<string> {
    const token = generateToken();
    await this.tokens.upsertByName({
      id: randomUUID(),
      name,
      role,
      tokenHash: hashToken(token),
      prefix: token.slice(0, 8),
    });
    return token;
  }

  /**
   * Makes sure an admin can log in: AVIARY_ADMIN_TOKEN is installed as the bootstrap admin; without it,
   * a token is generated the first time only (returned so the caller can print it once).
   */
  async bootstrap(configured: string | null): Promise<{ generated: string | null }> {
    if (configured) {
      await this.tokens.upsertByName({
        id: randomUUID(),
        name: BOOTSTRAP_ADMIN_NAME,
        role: 'admin',
        tokenHash: hashToken(configured),
        prefix: configured.slice(0, 8),
      });
      return { generated: null };
    }
    if ((await this.tokens.countActiveAdmins()) > 0) return { generated: null };
    const token = generateToken();
    await this.tokens.upsertByName({
      id: randomUUID(),
      name: BOOTSTRAP_ADMIN_NAME,
      role: 'admin',
      tokenHash: hashToken(token),
      prefix: token.slice(0, 8),
    });
    return { generated: token };
  }
}

import { Injectable } from '@nestjs/common';
import { credentialEnvName, hostAllowed, UpstreamSecrets } from '@aviary/config';
import { DomainError, type Actor } from '@aviary/domain';
import { isUniqueViolation } from '@aviary/persistence';
import { AuditRepository } from '../audit/audit.repository';
import { type Db } from '../models/model.repository';
import { type CredentialRecord, CredentialRepository } from './credential.repository';
import { type CreateCredentialInput } from './credential.schemas';

/**
 * The registry of upstream credentials an admin has declared. Operators may only reference one
 * of these from a version, and only for an upstream on one of its hosts: that is what keeps a
 * version from sending Aviary's own secrets, or another team's key, to a server of its choosing.
 */
@Injectable()
export class CredentialsService {
  /** This process's view of the secrets (the golden set calls upstreams from here). */
  readonly secrets = new UpstreamSecrets();

  constructor(
    private readonly credentials: CredentialRepository,
    private readonly audit: AuditRepository,
  ) {}

  /**
   * Two names that read the same env var (`a-b` and `A_B` both read AVIARY_UPSTREAM_KEY_A_B) would
   * share one key under different hosts: the second is refused, even when both arrive at once.
   */
  async create(input: CreateCredentialInput, actor: Actor): Promise<CredentialRecord> {
    const envName = credentialEnvName(input.name);
    let result: Awaited<ReturnType<CredentialRepository['createUnlessClash']>>;
    try {
      result = await this.credentials.createUnlessClash(
        {
          name: input.name,
          authScheme: input.authScheme,
          allowedHosts: [...new Set(input.allowedHosts)],
          description: input.description ?? null,
          createdBy: actor.name,
        },
        (existing) => existing.find((c) => credentialEnvName(c.name) === envName),
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw this.conflict(input.name, input.name);
      throw err;
    }
    if ('clash' in result) throw this.conflict(input.name, result.clash.name);
    const created = result.created;
    await this.audit.append({
      action: 'credential.created',
      target: created.name,
      actor: actor.name,
      details: { authScheme: created.authScheme, allowedHosts: created.allowedHosts },
    });
    return created;
  }

  private conflict(name: string, existing: string): DomainError {
    return new DomainError(
      'CONFLICT',
      existing === name
        ? `a credential named ${JSON.stringify(name)} already exists`
        : `credential ${JSON.stringify(existing)} already reads ${credentialEnvName(name)}; choose another name`,
      { field: 'name' },
    );
  }

  list(): Promise<CredentialRecord[]> {
    return this.credentials.list();
  }

  async get(name: string): Promise<CredentialRecord> {
    const found = await this.credentials.find(name);
    if (!found) throw new DomainError('NOT_FOUND', `credential ${JSON.stringify(name)} does not exist`);
    return found;
  }

  async delete(name: string, actor: Actor): Promise<CredentialRecord> {
    const found = await this.get(name);
    if (!(await this.credentials.deleteUnused(name)))
      throw new DomainError(
        'CONFLICT',
        `credential ${JSON.stringify(name)} is referenced by a model version; it cannot be deleted`,
      );
    await this.audit.append({ action: 'credential.deleted', target: name, actor: actor.name });
    return found;
  }

  /**
   * Checks a version's `apiKeyRef` against the registry: it must name a declared credential, and
   * the version's upstream must be one of the credential's hosts.
   */
  async assertUsable(ref: string, upstreamBaseUrl: string, db?: Db): Promise<void> {
    const credential = await this.credentials.find(ref, db);
    if (!credential)
      throw new DomainError(
        'INVALID_REFERENCE',
        `apiKeyRef ${JSON.stringify(ref)} is not a declared upstream credential; an admin declares it with POST /api/v1/credentials`,
        { issues: [{ field: 'apiKeyRef', message: 'no upstream credential with this name' }] },
      );
    if (!hostAllowed(credential.allowedHosts, upstreamBaseUrl))
      throw new DomainError(
        'INVALID_REFERENCE',
        `credential ${JSON.stringify(ref)} may only be sent to ${credential.allowedHosts.join(', ')}, not to ${new URL(upstreamBaseUrl).host}`,
        {
          issues: [
            {
              field: 'upstreamBaseUrl',
              message: `credential ${ref} is not meant for this host (allowed: ${credential.allowedHosts.join(', ')})`,
            },
          ],
        },
      );
  }
}

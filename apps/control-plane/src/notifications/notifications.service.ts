import { Inject, Injectable } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { hostAllowed } from '@aviary/config';
import { type Actor, DomainError, testNotification } from '@aviary/domain';
import { isUniqueViolation } from '@aviary/persistence';
import { AuditRepository } from '../audit/audit.repository';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ModelRepository } from '../models/model.repository';
import { type DeliveryRecord, NotificationDeliveryRepository } from './notification-delivery.repository';
import {
  type DestinationRecord,
  NotificationDestinationRepository,
} from './notification-destination.repository';
import { type CreateDestinationInput, type ListDeliveriesQuery } from './notification.schemas';

/** A webhook's signing secret: shown once at creation, like API tokens. */
function generateSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** Notification destinations (admin-configured) and what was delivered to them. */
@Injectable()
export class NotificationsService {
  constructor(
    private readonly destinations: NotificationDestinationRepository,
    private readonly deliveries: NotificationDeliveryRepository,
    private readonly models: ModelRepository,
    private readonly audit: AuditRepository,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async create(
    input: CreateDestinationInput,
    actor: Actor,
  ): Promise<{ destination: DestinationRecord; secret: string | null }> {
    const hosts = this.config.notifications.allowedHosts;
    if (hosts && !hostAllowed(hosts, input.url))
      throw new DomainError(
        'INVALID_REFERENCE',
        `notifications may only go to ${hosts.join(', ')} (AVIARY_NOTIFY_HOSTS), not to ${new URL(input.url).host}`,
        { issues: [{ field: 'url', message: 'host not allowed by AVIARY_NOTIFY_HOSTS' }] },
      );
    let modelId: string | null = null;
    if (input.model !== undefined) {
      const model = await this.models.findByRef(input.model);
      if (!model)
        throw new DomainError('INVALID_REFERENCE', `model ${JSON.stringify(input.model)} does not exist`, {
          issues: [{ field: 'model', message: 'no model with this name or id' }],
        });
      modelId = model.id;
    }
    const secret = input.type === 'webhook' ? generateSecret() : null;
    try {
      const destination = await this.destinations.transaction(async (tx) => {
        const created = await this.destinations.create(tx, {
          id: randomUUID(),
          name: input.name,
          type: input.type,
          url: input.url,
          secret,
          modelId,
          kinds: input.kinds,
          createdBy: actor.name,
        });
        await this.audit.append(
          {
            action: 'notification_destination.created',
            target: created.name,
            actor: actor.name,
            details: {
              id: created.id,
              type: created.type,
              host: new URL(created.url).host,
              model: created.model?.name ?? null,
              kinds: created.kinds,
            },
          },
          tx,
        );
        return created;
      });
      return { destination, secret };
    } catch (err) {
      if (isUniqueViolation(err))
        throw new DomainError(
          'CONFLICT',
          `a destination named ${JSON.stringify(input.name)} already exists`,
          {
            field: 'name',
          },
        );
      throw err;
    }
  }

  list(): Promise<DestinationRecord[]> {
    return this.destinations.list();
  }

  deliveryCounts(): Promise<Map<string, Record<string, number>>> {
    return this.destinations.deliveryCounts();
  }

  async get(ref: string): Promise<DestinationRecord> {
    const found = await this.destinations.find(ref);
    if (!found)
      throw new DomainError('NOT_FOUND', `notification destination ${JSON.stringify(ref)} does not exist`);
    return found;
  }

  /** Deletes it with its deliveries (pending ones are not sent). */
  async delete(ref: string, actor: Actor): Promise<DestinationRecord> {
    const found = await this.get(ref);
    await this.destinations.transaction(async (tx) => {
      if (!(await this.destinations.delete(tx, found.id)))
        throw new DomainError('NOT_FOUND', `notification destination ${JSON.stringify(ref)} does not exist`);
      await this.audit.append(
        {
          action: 'notification_destination.deleted',
          target: found.name,
          actor: actor.name,
          details: { id: found.id, type: found.type, host: new URL(found.url).host },
        },
        tx,
      );
    });
    return found;
  }

  /** Queues a test notification; it is sent, retried and recorded like any other. */
  async test(ref: string, actor: Actor): Promise<DeliveryRecord> {
    const d = await this.get(ref);
    return this.deliveries.create({
      destinationId: d.id,
      eventId: null,
      rolloutId: null,
      kind: 'test',
      payload: testNotification(d.name, actor.name),
    });
  }

  async listDeliveries(q: ListDeliveriesQuery, ref?: string): Promise<DeliveryRecord[]> {
    const destinationId = ref === undefined ? undefined : (await this.get(ref)).id;
    return this.deliveries.list(q, destinationId);
  }
}

import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { type z } from 'zod';
import { type Actor } from '@aviary/domain';
import { type Principal, RequireRole } from '../auth/roles';
import { ZodApiBody, ZodApiQuery, ZodApiResponse } from '../common/openapi';
import { CurrentPrincipal } from '../common/principal.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { type DeliveryRecord } from './notification-delivery.repository';
import { type DestinationRecord } from './notification-destination.repository';
import { createDestinationSchema, listDeliveriesQuery } from './notification.schemas';
import { NotificationsService } from './notifications.service';
import {
  createdDestinationResponse,
  deliveryListResponse,
  deliveryResponse,
  destinationListResponse,
  destinationResponse,
} from './notification.responses';

const actorOf = (p: Principal): Actor => ({ name: p.name, automatic: false });

function presentDestination(d: DestinationRecord, counts: Record<string, number> = {}) {
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    url: d.url,
    model: d.model,
    kinds: d.kinds,
    /** Webhooks carry X-Aviary-Signature; the secret itself is shown only at creation. */
    signed: d.secret !== null,
    deliveries: {
      pending: counts['pending'] ?? 0,
      delivered: counts['delivered'] ?? 0,
      failed: counts['failed'] ?? 0,
    },
    createdBy: d.createdBy,
    createdAt: d.createdAt,
  };
}

function presentDelivery(d: DeliveryRecord) {
  const payload = d.payload as { message?: unknown };
  return {
    id: d.id.toString(),
    destination: d.destination.name,
    kind: d.kind,
    eventId: d.eventId?.toString() ?? null,
    rolloutId: d.rolloutId,
    message: typeof payload.message === 'string' ? payload.message : null,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : null,
    lastAttemptAt: d.lastAttemptAt,
    lastStatus: d.lastStatus,
    lastError: d.lastError,
    deliveredAt: d.deliveredAt,
    createdAt: d.createdAt,
  };
}

/**
 * Admin only, like tokens: a destination URL is often a secret itself (a Slack webhook URL is the
 * credential to post into the channel).
 */
@ApiTags('notifications')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('api/v1/notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @Post('destinations')
  @ZodApiResponse(createdDestinationResponse, 'The destination', 201)
  @ApiOperation({
    summary:
      'Add a notification destination (webhook: the signing secret is shown once; slack: incoming webhook)',
  })
  @ZodApiBody(createDestinationSchema)
  async create(
    @Body(new ZodValidationPipe(createDestinationSchema)) body: z.output<typeof createDestinationSchema>,
    @CurrentPrincipal() p: Principal,
  ) {
    const { destination, secret } = await this.notifications.create(body, actorOf(p));
    return { ...presentDestination(destination), ...(secret ? { secret } : {}) };
  }

  @Get('destinations')
  @ZodApiResponse(destinationListResponse, 'The destinations')
  @ApiOperation({ summary: 'List notification destinations with their delivery counts' })
  async list() {
    const [items, counts] = await Promise.all([
      this.notifications.list(),
      this.notifications.deliveryCounts(),
    ]);
    return { items: items.map((d) => presentDestination(d, counts.get(d.id))) };
  }

  @Get('destinations/:ref')
  @ApiOperation({ summary: 'Get a destination by name or id, with its delivery counts' })
  @ZodApiResponse(destinationResponse, 'The destination')
  async get(@Param('ref') ref: string) {
    const [d, counts] = await Promise.all([this.notifications.get(ref), this.notifications.deliveryCounts()]);
    return presentDestination(d, counts.get(d.id));
  }

  @Delete('destinations/:ref')
  @ZodApiResponse(destinationResponse, 'The deleted destination')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a destination and its deliveries (recorded in the audit log)' })
  async delete(@Param('ref') ref: string, @CurrentPrincipal() p: Principal) {
    return presentDestination(await this.notifications.delete(ref, actorOf(p)));
  }

  @Post('destinations/:ref/test')
  @ZodApiResponse(deliveryResponse, 'The queued delivery', 202)
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue a test notification (sent, retried and recorded like any other)' })
  async test(@Param('ref') ref: string, @CurrentPrincipal() p: Principal) {
    return presentDelivery(await this.notifications.test(ref, actorOf(p)));
  }

  @Get('destinations/:ref/deliveries')
  @ZodApiResponse(deliveryListResponse, 'The deliveries')
  @ApiOperation({
    summary: "A destination's deliveries, newest first: status, attempts, last answer, next try",
  })
  @ZodApiQuery(listDeliveriesQuery)
  async destinationDeliveries(
    @Param('ref') ref: string,
    @Query(new ZodValidationPipe(listDeliveriesQuery, 'query')) q: z.output<typeof listDeliveriesQuery>,
  ) {
    return { items: (await this.notifications.listDeliveries(q, ref)).map(presentDelivery) };
  }

  @Get('deliveries')
  @ZodApiResponse(deliveryListResponse, 'The deliveries')
  @ApiOperation({ summary: 'Every destination’s deliveries, newest first' })
  @ZodApiQuery(listDeliveriesQuery)
  async deliveries(
    @Query(new ZodValidationPipe(listDeliveriesQuery, 'query')) q: z.output<typeof listDeliveriesQuery>,
  ) {
    return { items: (await this.notifications.listDeliveries(q)).map(presentDelivery) };
  }
}

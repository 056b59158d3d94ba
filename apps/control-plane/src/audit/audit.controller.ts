import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { RequireRole } from '../auth/roles';
import { ZodApiQuery, ZodApiResponse } from '../common/openapi';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { AuditRepository } from './audit.repository';
import { auditListResponse } from './audit.responses';

export const listAuditQuery = z.strictObject({
  before: z.coerce.bigint().min(1n).max(9_223_372_036_854_775_807n, 'must be at most 2^63 - 1').optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

@ApiTags('audit')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('api/v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditRepository) {}

  @Get()
  @ZodApiResponse(auditListResponse, 'The audit events')
  @ApiOperation({
    summary:
      'Who changed what outside rollouts (models, versions, tokens, router keys, credentials, notification destinations), newest first',
  })
  @ZodApiQuery(listAuditQuery)
  async list(@Query(new ZodValidationPipe(listAuditQuery, 'query')) q: z.output<typeof listAuditQuery>) {
    const items = await this.audit.list(q);
    return {
      items: items.map((e) => ({
        id: e.id.toString(),
        action: e.action,
        target: e.target,
        actor: e.actor,
        details: e.details,
        at: e.createdAt,
      })),
    };
  }
}

import type { Actor } from '@aviary/domain';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CurrentActor } from '../common/principal.decorator';
import { sendEtagFeed } from '../common/etag-feed';
import { RequireRole } from '../auth/roles';
import { UuidPipe } from '../common/id.pipe';
import { ZodApiBody, ZodApiResponse } from '../common/openapi';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { createRouterKeySchema, keyUsageReportSchema, type KeyUsageAnswer } from './router-key.schemas';
import { type RouterKeyRecord } from './router-key.repository';
import { RouterKeysService } from './router-keys.service';
import { createdRouterKeyResponse, routerKeyListResponse, routerKeyResponse } from './router-key.responses';

type UsageToday = { day: string; usage: KeyUsageAnswer['usage'] };

function present(k: RouterKeyRecord, today?: UsageToday) {
  const used = today?.usage[k.id];
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    models: k.models.length > 0 ? k.models : null,
    requestsPerMinute: k.requestsPerMinute,
    tokensPerDay: k.tokensPerDay === null ? null : Number(k.tokensPerDay),
    mayForceVersion: k.mayForceVersion,
    createdAt: k.createdAt,
    revokedAt: k.revokedAt,
    ...(today
      ? { usedToday: { day: today.day, tokens: used?.tokens ?? 0, requests: used?.requests ?? 0 } }
      : {}),
  };
}

/** Admin API: keys for clients of the router (OpenAI-compatible API), scoped and limited. */
@ApiTags('router keys')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('api/v1/router-keys')
export class RouterKeysController {
  constructor(private readonly keys: RouterKeysService) {}

  @Post()
  @ZodApiResponse(createdRouterKeyResponse, 'The key, with its value', 201)
  @ApiOperation({ summary: 'Create a router API key (the value is shown once)' })
  @ZodApiBody(createRouterKeySchema)
  async create(
    @Body(new ZodValidationPipe(createRouterKeySchema)) body: z.output<typeof createRouterKeySchema>,
    @CurrentActor() actor: Actor,
  ) {
    const { key, record } = await this.keys.create(body, actor);
    return { ...present(record), key };
  }

  @Get()
  @ZodApiResponse(routerKeyListResponse, 'The keys')
  @ApiOperation({ summary: 'List router API keys (never their values)' })
  async list() {
    const [keys, today] = await Promise.all([this.keys.list(), this.keys.usageToday()]);
    return { items: keys.map((k) => present(k, today)) };
  }

  @Delete(':id')
  @ZodApiResponse(routerKeyResponse, 'The revoked key')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a router API key (routers stop accepting it at their next poll)' })
  async revoke(@Param('id', new UuidPipe('router key')) id: string, @CurrentActor() actor: Actor) {
    return present(await this.keys.revoke(id, actor));
  }
}

/**
 * What routers poll for: the active keys' hashes, scopes and limits, with an ETag so an unchanged
 * list costs a 304. Any valid token (routers use a viewer token): the hashes are of 192-bit random
 * keys and useless without them.
 */
@ApiTags('router keys')
@Controller('api/router')
export class RouterKeysFeedController {
  constructor(private readonly keys: RouterKeysService) {}

  @Get('keys')
  @ApiExcludeEndpoint()
  async feed(@Req() req: Request, @Res() res: Response): Promise<void> {
    sendEtagFeed(req, res, { version: 1, keys: await this.keys.published() });
  }

  /**
   * Routers report what each key used since their last report and read back every key's totals
   * today: the daily token budget holds for all routers together, not per replica.
   */
  @Post('key-usage')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  report(
    @Body(new ZodValidationPipe(keyUsageReportSchema)) body: z.output<typeof keyUsageReportSchema>,
  ): Promise<KeyUsageAnswer> {
    return this.keys.recordUsage(body);
  }
}

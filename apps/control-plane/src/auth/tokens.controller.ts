import type { Actor } from '@aviary/domain';
import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { UuidPipe } from '../common/id.pipe';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { CurrentActor } from '../common/principal.decorator';
import { ZodApiBody, ZodApiResponse } from '../common/openapi';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { RequireRole, ROLES } from './roles';
import { type TokenRecord } from './token.repository';
import { TokensService } from './tokens.service';
import { createdTokenResponse, tokenListResponse, tokenResponse } from './token.responses';

export const createTokenSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'letters, digits, . _ @ - only'),
  role: z.enum(ROLES),
});

function present(t: TokenRecord) {
  return {
    id: t.id,
    name: t.name,
    role: t.role,
    prefix: t.prefix,
    createdAt: t.createdAt,
    lastUsedAt: t.lastUsedAt,
    revokedAt: t.revokedAt,
  };
}

@ApiTags('tokens')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('api/v1/tokens')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @ZodApiResponse(createdTokenResponse, 'The token, with its value', 201)
  @ApiOperation({ summary: 'Create an API token (the value is shown once)' })
  @ZodApiBody(createTokenSchema)
  async create(
    @Body(new ZodValidationPipe(createTokenSchema)) body: z.output<typeof createTokenSchema>,
    @CurrentActor() actor: Actor,
  ) {
    const { token, record } = await this.tokens.create(body.name, body.role, actor);
    return { ...present(record), token };
  }

  @Get()
  @ZodApiResponse(tokenListResponse, 'The tokens')
  @ApiOperation({ summary: 'List API tokens (never their values)' })
  async list() {
    return { items: (await this.tokens.list()).map(present) };
  }

  @Delete(':id')
  @ZodApiResponse(tokenResponse, 'The revoked token')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke a token' })
  async revoke(@Param('id', new UuidPipe('token')) id: string, @CurrentActor() actor: Actor) {
    return present(await this.tokens.revoke(id, actor));
  }
}

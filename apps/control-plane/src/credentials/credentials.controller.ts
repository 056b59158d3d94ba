import type { Actor } from '@aviary/domain';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { credentialEnvName } from '@aviary/config';
import { type Principal, RequireRole } from '../auth/roles';
import { sendEtagFeed } from '../common/etag-feed';
import { ZodApiBody, ZodApiResponse } from '../common/openapi';
import { CurrentActor, CurrentPrincipal } from '../common/principal.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { type CredentialRecord } from './credential.repository';
import { createCredentialSchema, type CreateCredentialInput } from './credential.schemas';
import { CredentialsService } from './credentials.service';
import { credentialListResponse, credentialResponse } from './credential.responses';

@ApiTags('credentials')
@ApiBearerAuth()
@Controller('api/v1/credentials')
export class CredentialsController {
  constructor(private readonly credentials: CredentialsService) {}

  private present(c: CredentialRecord) {
    return {
      name: c.name,
      authScheme: c.authScheme,
      allowedHosts: c.allowedHosts,
      description: c.description,
      /** Where each Aviary process reads the secret from. */
      secretFrom: this.credentials.secrets.describe(c.name),
      envName: credentialEnvName(c.name),
      /** Whether the control plane itself can read it (it calls upstreams for golden sets). */
      availableToControlPlane: this.credentials.secrets.get(c.name) !== null,
      versions: c._count.versions,
      createdBy: c.createdBy,
      createdAt: c.createdAt,
    };
  }

  @Post()
  @ZodApiResponse(credentialResponse, 'The credential', 201)
  @RequireRole('admin')
  @ApiOperation({
    summary: 'Declare an upstream credential: its auth scheme and the hosts it may be sent to',
  })
  @ZodApiBody(createCredentialSchema)
  async create(
    @Body(new ZodValidationPipe(createCredentialSchema)) body: CreateCredentialInput,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.present(await this.credentials.create(body, { name: principal.name, automatic: false }));
  }

  @Get()
  @ZodApiResponse(credentialListResponse, 'The credentials')
  @RequireRole('operator')
  @ApiOperation({ summary: 'List upstream credentials (never their secrets)' })
  async list() {
    return { items: (await this.credentials.list()).map((c) => this.present(c)) };
  }

  @Get(':name')
  @ZodApiResponse(credentialResponse, 'The credential')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Get an upstream credential (never its secret)' })
  async get(@Param('name') name: string) {
    return this.present(await this.credentials.get(name));
  }

  @Delete(':name')
  @ZodApiResponse(credentialResponse, 'The deleted credential')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Delete an upstream credential no version references' })
  async delete(@Param('name') name: string, @CurrentActor() actor: Actor) {
    return this.present(await this.credentials.delete(name, actor));
  }
}

/**
 * What routers poll for: each credential's auth scheme and the hosts it may be sent to. The router
 * sends a credential only to these hosts, whatever a flag payload names: the flag source (Unleash)
 * is outside Aviary's auth, this feed is not. Any valid token (routers use a viewer token); it holds
 * no secret.
 */
@ApiTags('credentials')
@Controller('api/router')
export class CredentialBindingsFeedController {
  constructor(private readonly credentials: CredentialsService) {}

  @Get('credentials')
  @ApiExcludeEndpoint()
  async feed(@Req() req: Request, @Res() res: Response): Promise<void> {
    const credentials = (await this.credentials.list()).map((c) => ({
      name: c.name,
      authScheme: c.authScheme,
      allowedHosts: c.allowedHosts,
    }));
    sendEtagFeed(req, res, { version: 1, credentials });
  }
}

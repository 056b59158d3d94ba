import type { Actor } from '@aviary/domain';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type z } from 'zod';
import { type Principal, RequireRole } from '../auth/roles';
import { ZodApiBody, ZodApiResponse } from '../common/openapi';
import { CurrentActor, CurrentPrincipal } from '../common/principal.decorator';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { presentRollout } from '../rollouts/rollout.presenter';
import { rollbackSchema } from '../rollouts/rollout.schemas';
import { RolloutsService } from '../rollouts/rollouts.service';
import { type ModelRecord, type VersionRecord } from './model.repository';
import { createModelSchema, createVersionSchema, pricesSchema } from './model.schemas';
import { ModelsService, presentPrices } from './models.service';
import { versionSettings } from './version.settings';
import {
  modelListResponse,
  modelResponse,
  versionDiffResponse,
  versionListResponse,
  versionResponse,
} from './model.responses';
import { rolloutResponse } from '../rollouts/rollout.responses';

function presentVersion(v: VersionRecord) {
  return {
    id: v.id,
    ...versionSettings(v),
    metadata: v.metadata,
    prices: presentPrices(v),
    status: v.status,
    createdAt: v.createdAt,
  };
}

function presentModel(m: ModelRecord) {
  const stable = m.versions.find((v) => v.id === m.stableVersionId) ?? null;
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    stableVersion: stable ? { id: stable.id, label: stable.label } : null,
    versions: m.versions.map((v) => ({ id: v.id, label: v.label, status: v.status })),
    activeRollout: m.rollouts[0] ?? null,
    createdAt: m.createdAt,
  };
}

@ApiTags('models')
@ApiBearerAuth()
@Controller('api/v1/models')
export class ModelsController {
  constructor(
    private readonly models: ModelsService,
    private readonly rollouts: RolloutsService,
  ) {}

  @Post()
  @ZodApiResponse(modelResponse, 'The model', 201)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Register a model (the name clients send as `model`)' })
  @ZodApiBody(createModelSchema)
  async create(
    @Body(new ZodValidationPipe(createModelSchema)) body: z.output<typeof createModelSchema>,
    @CurrentActor() actor: Actor,
  ) {
    return presentModel(await this.models.create(body, actor));
  }

  @Get()
  @ApiOperation({ summary: 'List models with their versions, stable version and active rollout' })
  @ZodApiResponse(modelListResponse, 'The models')
  async list() {
    return { items: (await this.models.list()).map(presentModel) };
  }

  @Get(':model')
  @ApiOperation({ summary: 'Get a model by name or id' })
  @ZodApiResponse(modelResponse, 'The model')
  async get(@Param('model') model: string) {
    return presentModel(await this.models.get(model));
  }

  @Post(':model/versions')
  @ZodApiResponse(versionResponse, 'The version', 201)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Register a version; the first version of a model becomes its stable version' })
  @ZodApiBody(createVersionSchema)
  async createVersion(
    @Param('model') model: string,
    @Body(new ZodValidationPipe(createVersionSchema)) body: z.output<typeof createVersionSchema>,
    @CurrentActor() actor: Actor,
  ) {
    return presentVersion(await this.models.createVersion(model, body, actor));
  }

  @Get(':model/versions')
  @ApiOperation({ summary: 'List the versions of a model' })
  @ZodApiResponse(versionListResponse, 'The versions')
  async versions(@Param('model') model: string) {
    const m = await this.models.get(model);
    return { items: m.versions.map(presentVersion) };
  }

  @Get(':model/versions/:version')
  @ApiOperation({ summary: 'Get a version by label or id' })
  @ZodApiResponse(versionResponse, 'The version')
  async version(@Param('model') model: string, @Param('version') version: string) {
    return presentVersion(await this.models.getVersion(model, version));
  }

  @Get(':model/versions/:version/diff/:other')
  @ZodApiResponse(versionDiffResponse, 'What differs')
  @ApiOperation({
    summary:
      'What differs between two versions: upstream settings, parameters, variables, and the system prompt as a line diff',
  })
  diff(@Param('model') model: string, @Param('version') version: string, @Param('other') other: string) {
    return this.models.diffVersions(model, version, other);
  }

  @Put(':model/versions/:version/prices')
  @RequireRole('operator')
  @ZodApiResponse(versionResponse, 'The version with its new prices')
  @ApiOperation({
    summary:
      'Set a version’s prices (USD per million input and output tokens); routers price answers with them from their next poll',
  })
  @ZodApiBody(pricesSchema)
  async setPrices(
    @Param('model') model: string,
    @Param('version') version: string,
    @Body(new ZodValidationPipe(pricesSchema)) body: z.output<typeof pricesSchema>,
    @CurrentPrincipal() p: Principal,
  ) {
    return presentVersion(await this.models.setPrices(model, version, body, p.name));
  }

  @Delete(':model/versions/:version/prices')
  @RequireRole('operator')
  @ZodApiResponse(versionResponse, 'The version, without prices')
  @ApiOperation({ summary: 'Forget a version’s prices (its cost becomes unknown)' })
  async clearPrices(
    @Param('model') model: string,
    @Param('version') version: string,
    @CurrentPrincipal() p: Principal,
  ) {
    return presentVersion(await this.models.setPrices(model, version, null, p.name));
  }

  @Post(':model/revert')
  @ZodApiResponse(rolloutResponse, 'The rollout that made the previous version stable again')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({
    summary: 'After a completed rollout: make the previous version stable again (the one it replaced)',
  })
  @ZodApiBody(rollbackSchema)
  async revert(
    @Param('model') model: string,
    @Body(new ZodValidationPipe(rollbackSchema)) b: z.output<typeof rollbackSchema>,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    const r = await this.rollouts.revert(model, { name: p.name, automatic: false }, b.reason);
    res.setHeader('ETag', `"${r.version}"`);
    return presentRollout(r);
  }

  @Post(':model/rollback')
  @ZodApiResponse(rolloutResponse, 'The rolled-back rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Kill switch: roll back whatever rollout is active for this model' })
  @ZodApiBody(rollbackSchema)
  async rollback(
    @Param('model') model: string,
    @Body(new ZodValidationPipe(rollbackSchema)) b: z.output<typeof rollbackSchema>,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    const active = await this.rollouts.activeOfModel(model);
    const r = await this.rollouts.act(active.id, {
      type: 'rollback',
      actor: { name: p.name, automatic: false },
      reason: b.reason,
    });
    res.setHeader('ETag', `"${r.version}"`);
    return presentRollout(r);
  }
}

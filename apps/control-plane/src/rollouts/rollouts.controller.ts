import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type z } from 'zod';
import { type Actor } from '@aviary/domain';
import { type Principal, RequireRole } from '../auth/roles';
import { UuidPipe } from '../common/id.pipe';
import { ZodApiBody, ZodApiQuery, ZodApiResponse } from '../common/openapi';
import { CurrentPrincipal } from '../common/principal.decorator';
import { ProblemException } from '../common/problem';
import { ZodValidationPipe } from '../common/zod-validation.pipe';
import { presentEvent, presentRollout } from './rollout.presenter';
import { type RolloutRecord } from './rollout.repository';
import {
  createRolloutSchema,
  listEventsQuery,
  listRolloutsQuery,
  pauseSchema,
  promoteSchema,
  resumeSchema,
  retrySchema,
  rollbackSchema,
  startSchema,
} from './rollout.schemas';
import { RolloutsService } from './rollouts.service';
import { rolloutEventListResponse, rolloutListResponse, rolloutResponse } from './rollout.responses';

const actorOf = (p: Principal): Actor => ({ name: p.name, automatic: false });
/** Actions may be posted without a body. */
const optionalBody = <S extends z.ZodType>(schema: S) =>
  new ZodValidationPipe(schema.optional().transform((v) => v ?? schema.parse({})));

function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m?.[1])
    throw ProblemException.validation(
      [{ field: 'If-Match', message: 'must be the rollout ETag, e.g. "3"' }],
      'headers',
    );
  return Number(m[1]);
}

function send(res: Response, r: RolloutRecord) {
  res.setHeader('ETag', `"${r.version}"`);
  return presentRollout(r);
}

const IF_MATCH = ApiHeader({
  name: 'If-Match',
  required: false,
  description: 'Rollout ETag; 409 if the rollout changed since',
});

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollouts')
export class RolloutsController {
  constructor(private readonly rollouts: RolloutsService) {}

  @Post()
  @ZodApiResponse(rolloutResponse, 'The rollout (Pending)', 201)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Create a rollout of a candidate version against the model’s stable version' })
  @ZodApiBody(createRolloutSchema)
  async create(
    @Body(new ZodValidationPipe(createRolloutSchema)) body: z.output<typeof createRolloutSchema>,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    res.status(201);
    return send(res, await this.rollouts.create(body, actorOf(p)));
  }

  @Get()
  @ZodApiResponse(rolloutListResponse, 'The rollouts')
  @ApiOperation({ summary: 'List rollouts, newest first' })
  @ZodApiQuery(listRolloutsQuery)
  async list(
    @Query(new ZodValidationPipe(listRolloutsQuery, 'query')) q: z.output<typeof listRolloutsQuery>,
  ) {
    const items = await this.rollouts.list(q);
    return {
      items: items.map(presentRollout),
      nextCursor: items.length === q.limit ? (items.at(-1)?.id ?? null) : null,
    };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a rollout (its ETag is its version)' })
  @ZodApiResponse(rolloutResponse, 'The rollout')
  async get(@Param('id', new UuidPipe('rollout')) id: string, @Res({ passthrough: true }) res: Response) {
    return send(res, await this.rollouts.get(id));
  }

  @Get(':id/events')
  @ZodApiResponse(rolloutEventListResponse, 'The events')
  @ApiOperation({ summary: 'The decision and audit log of a rollout, oldest first' })
  @ZodApiQuery(listEventsQuery)
  async events(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Query(new ZodValidationPipe(listEventsQuery, 'query')) q: z.output<typeof listEventsQuery>,
  ) {
    const items = await this.rollouts.listEvents(id, q);
    return { items: items.map(presentEvent) };
  }

  @Post(':id/start')
  @ApiOperation({ summary: 'Start a pending rollout at its first step' })
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @IF_MATCH
  @ZodApiBody(startSchema)
  async start(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(startSchema)) _b: z.output<typeof startSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(
      res,
      await this.rollouts.act(
        id,
        { type: 'start', actor: actorOf(p) },
        { expectedVersion: parseIfMatch(ifMatch) },
      ),
    );
  }

  @Post(':id/promote')
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Advance one step now (or to the end with full: true), overriding analysis' })
  @IF_MATCH
  @ZodApiBody(promoteSchema)
  async promote(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(promoteSchema)) b: z.output<typeof promoteSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(
      res,
      await this.rollouts.act(
        id,
        { type: 'promote', actor: actorOf(p), full: b.full, ...(b.reason ? { reason: b.reason } : {}) },
        { expectedVersion: parseIfMatch(ifMatch) },
      ),
    );
  }

  @Post(':id/pause')
  @ApiOperation({ summary: 'Pause: hold the current split until resumed' })
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @IF_MATCH
  @ZodApiBody(pauseSchema)
  async pause(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(pauseSchema)) b: z.output<typeof pauseSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(
      res,
      await this.rollouts.act(
        id,
        { type: 'pause', actor: actorOf(p), ...(b.reason ? { reason: b.reason } : {}) },
        { expectedVersion: parseIfMatch(ifMatch) },
      ),
    );
  }

  @Post(':id/resume')
  @ApiOperation({ summary: 'Resume a paused rollout where it stopped' })
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @IF_MATCH
  @ZodApiBody(resumeSchema)
  async resume(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(resumeSchema)) _b: z.output<typeof resumeSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(
      res,
      await this.rollouts.act(
        id,
        { type: 'resume', actor: actorOf(p) },
        { expectedVersion: parseIfMatch(ifMatch) },
      ),
    );
  }

  @Post(':id/rollback')
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Roll back now: every user goes back to the baseline (also: abort)' })
  @IF_MATCH
  @ZodApiBody(rollbackSchema)
  async rollback(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(new ZodValidationPipe(rollbackSchema)) b: z.output<typeof rollbackSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(
      res,
      await this.rollouts.act(
        id,
        { type: 'rollback', actor: actorOf(p), reason: b.reason },
        { expectedVersion: parseIfMatch(ifMatch) },
      ),
    );
  }

  @Post(':id/abort')
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Alias of rollback (Argo Rollouts’ word)' })
  @ZodApiBody(rollbackSchema)
  async abort(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(new ZodValidationPipe(rollbackSchema)) b: z.output<typeof rollbackSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.rollback(id, b, ifMatch, p, res);
  }

  @Post(':id/retry')
  @ZodApiResponse(rolloutResponse, 'The rollout')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({
    summary: 'Start a rolled-back rollout again from its first step (explicit, with a reason)',
  })
  @IF_MATCH
  @ZodApiBody(retrySchema)
  async retry(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(new ZodValidationPipe(retrySchema)) b: z.output<typeof retrySchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return send(
      res,
      await this.rollouts.act(
        id,
        { type: 'retry', actor: actorOf(p), reason: b.reason },
        { expectedVersion: parseIfMatch(ifMatch) },
      ),
    );
  }
}

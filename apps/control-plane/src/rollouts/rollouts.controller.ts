import {
  applyDecorators,
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { type z } from 'zod';
import { type Actor, type RolloutEvent } from '@aviary/domain';
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

/** What every action on a rollout shares: `POST :id/<name>`, an operator's, 200 with the rollout and its ETag. */
const RolloutAction = (name: string, summary: string, body: z.ZodType) =>
  applyDecorators(
    Post(`:id/${name}`),
    ApiOperation({ summary }),
    ZodApiResponse(rolloutResponse, 'The rollout'),
    HttpCode(200),
    RequireRole('operator'),
    IF_MATCH,
    ZodApiBody(body),
  );

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

  @RolloutAction('start', 'Start a pending rollout at its first step', startSchema)
  start(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(startSchema)) _b: z.output<typeof startSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.act(res, id, ifMatch, { type: 'start', actor: actorOf(p) });
  }

  @RolloutAction(
    'promote',
    'Advance one step now (or to the end with full: true), overriding analysis',
    promoteSchema,
  )
  promote(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(promoteSchema)) b: z.output<typeof promoteSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.act(res, id, ifMatch, {
      type: 'promote',
      actor: actorOf(p),
      full: b.full,
      ...(b.reason ? { reason: b.reason } : {}),
    });
  }

  @RolloutAction('pause', 'Pause: hold the current split until resumed', pauseSchema)
  pause(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(pauseSchema)) b: z.output<typeof pauseSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.act(res, id, ifMatch, {
      type: 'pause',
      actor: actorOf(p),
      ...(b.reason ? { reason: b.reason } : {}),
    });
  }

  @RolloutAction('resume', 'Resume a paused rollout where it stopped', resumeSchema)
  resume(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(optionalBody(resumeSchema)) _b: z.output<typeof resumeSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.act(res, id, ifMatch, { type: 'resume', actor: actorOf(p) });
  }

  @RolloutAction(
    'rollback',
    'Roll back now: every user goes back to the baseline (also: abort)',
    rollbackSchema,
  )
  rollback(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(new ZodValidationPipe(rollbackSchema)) b: z.output<typeof rollbackSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.act(res, id, ifMatch, { type: 'rollback', actor: actorOf(p), reason: b.reason });
  }

  @RolloutAction('abort', 'Alias of rollback (Argo Rollouts’ word)', rollbackSchema)
  abort(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(new ZodValidationPipe(rollbackSchema)) b: z.output<typeof rollbackSchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.rollback(id, b, ifMatch, p, res);
  }

  @RolloutAction(
    'retry',
    'Start a rolled-back rollout again from its first step (explicit, with a reason)',
    retrySchema,
  )
  retry(
    @Param('id', new UuidPipe('rollout')) id: string,
    @Body(new ZodValidationPipe(retrySchema)) b: z.output<typeof retrySchema>,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentPrincipal() p: Principal,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.act(res, id, ifMatch, { type: 'retry', actor: actorOf(p), reason: b.reason });
  }

  /** One action on the rollout, guarded by its ETag when the caller sent If-Match. */
  private async act(res: Response, id: string, ifMatch: string | undefined, event: RolloutEvent) {
    return send(res, await this.rollouts.act(id, event, { expectedVersion: parseIfMatch(ifMatch) }));
  }
}

import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { buildClientFeaturesResponse, computeEtag, etagMatches } from '@aviary/flags';
import { FlagPublicationRepository } from './flag-publication.repository';

/**
 * The built-in flag source: the Unleash client API (`/api/client/features`), served from the staged
 * publications, so a router's unleash-client works unchanged against Unleash or the control plane.
 * Needs any valid Aviary token (routers get a viewer token).
 */
@ApiExcludeController()
@Controller('api/client')
export class BuiltinFlagsController {
  constructor(private readonly publications: FlagPublicationRepository) {}

  @Get('features')
  async features(@Req() req: Request, @Res() res: Response): Promise<void> {
    const rows = await this.publications.all();
    const body = buildClientFeaturesResponse(rows.map((r) => r.routing));
    const json = JSON.stringify(body);
    const etag = computeEtag(json);
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (etagMatches(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    res.status(200).type('application/json').send(json);
  }

  /** unleash-client registers itself and posts usage metrics; accepted and dropped. */
  @Post('register')
  @HttpCode(202)
  register(): void {}

  @Post('metrics')
  @HttpCode(202)
  metrics(): void {}
}

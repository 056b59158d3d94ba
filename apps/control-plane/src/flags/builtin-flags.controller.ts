import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { buildClientFeaturesResponse } from '@aviary/flags';
import { sendEtagFeed } from '../common/etag-feed';
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
    sendEtagFeed(req, res, buildClientFeaturesResponse(rows.map((r) => r.routing)));
  }

  /** unleash-client registers itself and posts usage metrics; accepted and dropped. */
  @Post('register')
  @HttpCode(202)
  register(): void {}

  @Post('metrics')
  @HttpCode(202)
  metrics(): void {}
}

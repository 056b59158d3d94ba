import { Body, Controller, Get, Header, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DomainError } from '@aviary/domain';
import { TIME_ONLY_NOTICE } from '../analysis/time-only.analysis';
import { Public } from '../auth/roles';
import { isUuid, UuidPipe } from '../common/id.pipe';
import { ProblemException } from '../common/problem';
import { MODEL_NAME } from '../models/model.schemas';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { safeNext, StatusAccess, type StatusViewer } from './status-access';
import {
  loginPage,
  messagePage,
  notFoundPage,
  pageShell,
  STATUS_ASSETS,
  STATUS_SECURITY_HEADERS,
  type StatusAsset,
} from './status.html';
import { StatusService } from './status.service';
import { ZodApiResponse } from '../common/openapi';
import {
  statusModelHistoryResponse,
  statusOverviewResponse,
  statusRolloutResponse,
} from './status.responses';

/** The browser files, read once: the page's own script and style, and Chart.js from node_modules. */
function assetPath(name: StatusAsset): string {
  // chart.js exports only its module entry points; the UMD build sits next to them in dist/.
  if (name === 'chart.umd.min.js')
    return join(dirname(createRequire(__filename).resolve('chart.js')), 'chart.umd.min.js');
  return join(__dirname, 'public', name);
}

/**
 * The PM status page at /status: HTML shells plus the JSON they poll. Read-only; any valid token
 * (viewer is enough) or AVIARY_STATUS_PUBLIC. Routes are Public for the API guard: they check access
 * themselves, because a browser without a token should get a sign-in form, not problem+json.
 */
@ApiTags('status page')
@Public()
@Controller('status')
export class StatusController {
  private readonly assets = new Map<StatusAsset, Promise<Buffer>>();

  constructor(
    private readonly access: StatusAccess,
    private readonly status: StatusService,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  @Get()
  @ApiExcludeEndpoint()
  async overviewPage(@Req() req: Request, @Res() res: Response, @Query('token') token?: unknown) {
    await this.page(req, res, token, '/status', () => ({ kind: 'overview' }));
  }

  @Get('rollouts/:id')
  @ApiExcludeEndpoint()
  async rolloutPage(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id') id: string,
    @Query('token') token?: unknown,
  ) {
    if (!isUuid(id)) return this.html(res, 404, notFoundPage(`There is no rollout ${JSON.stringify(id)}.`));
    await this.page(req, res, token, `/status/rollouts/${id.toLowerCase()}`, () => ({
      kind: 'rollout',
      id: id.toLowerCase(),
    }));
  }

  @Get('models/:name')
  @ApiExcludeEndpoint()
  async modelPage(
    @Req() req: Request,
    @Res() res: Response,
    @Param('name') name: string,
    @Query('token') token?: unknown,
  ) {
    if (!MODEL_NAME.test(name))
      return this.html(res, 404, notFoundPage(`There is no model ${JSON.stringify(name)}.`));
    await this.page(req, res, token, `/status/models/${name}`, () => ({ kind: 'model', name }));
  }

  @Post('login')
  @ApiExcludeEndpoint()
  async login(@Req() req: Request, @Res() res: Response, @Body() body: unknown) {
    // Login CSRF: another site must not sign a browser in with a token of its choosing.
    if (!sameOrigin(req))
      return this.html(res, 403, messagePage('Forbidden', 'Sign in from this page, not from another site.'));
    const form = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const next = safeNext(form['next']);
    const token = typeof form['token'] === 'string' ? form['token'].trim() : '';
    if (!(await this.access.accepts(token))) {
      return this.html(
        res,
        401,
        loginPage({ next, error: token ? 'That token is unknown or revoked.' : 'Paste a token to sign in.' }),
      );
    }
    res.setHeader('set-cookie', this.access.signInCookie(token, req));
    res.redirect(303, next);
  }

  @Post('logout')
  @ApiExcludeEndpoint()
  logout(@Req() req: Request, @Res() res: Response) {
    res.setHeader('set-cookie', this.access.signOutCookie(req));
    res.redirect(303, '/status');
  }

  @Get('api/overview')
  @ApiBearerAuth()
  @ZodApiResponse(statusOverviewResponse, 'The overview')
  @Header('cache-control', 'no-store')
  @ApiOperation({ summary: 'Status page data: every model with its active and recent rollouts' })
  async overview(@Req() req: Request) {
    await this.requireViewer(req);
    return this.status.overview();
  }

  @Get('api/models/:name')
  @Header('cache-control', 'no-store')
  @ZodApiResponse(statusModelHistoryResponse, 'The model and its rollouts')
  @ApiOperation({
    summary: 'Status page data for one model: every rollout, newest first, how each ended, when and by whom',
  })
  async modelHistory(@Req() req: Request, @Param('name') name: string) {
    await this.requireViewer(req);
    const data = MODEL_NAME.test(name) ? await this.status.modelHistory(name) : null;
    if (!data) throw new DomainError('NOT_FOUND', `model ${JSON.stringify(name)} does not exist`);
    return data;
  }

  @Get('api/rollouts/:id')
  @ApiBearerAuth()
  @ZodApiResponse(statusRolloutResponse, 'The rollout page data')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      'Status page data for one rollout: step timeline, comparison, metric series per version, shadow examples, decision log',
  })
  async rollout(@Req() req: Request, @Param('id', new UuidPipe('rollout')) id: string) {
    const viewer = await this.requireViewer(req);
    // Example pairs carry users' prompts and the models' answers: only for signed-in viewers.
    const data = await this.status.rollout(id, { examples: !viewer.public });
    if (!data) throw new DomainError('NOT_FOUND', `rollout ${JSON.stringify(id)} does not exist`);
    return data;
  }

  @Get('assets/:name')
  @ApiExcludeEndpoint()
  async asset(@Param('name') name: string, @Res() res: Response) {
    if (!Object.hasOwn(STATUS_ASSETS, name)) return this.html(res, 404, notFoundPage('No such file.'));
    const asset = name as StatusAsset;
    let body = this.assets.get(asset);
    if (!body) {
      body = readFile(assetPath(asset));
      this.assets.set(asset, body);
      body.catch(() => this.assets.delete(asset));
    }
    res
      .status(200)
      .setHeader('content-type', STATUS_ASSETS[asset])
      .setHeader('x-content-type-options', 'nosniff')
      .setHeader('cache-control', 'public, max-age=300')
      .send(await body);
  }

  /** A page: sign in from a token link, show the shell to a viewer, the sign-in form to anyone else. */
  private async page(
    req: Request,
    res: Response,
    token: unknown,
    path: string,
    shell: () => Parameters<typeof pageShell>[0],
  ) {
    if (typeof token === 'string') {
      // A token link: keep the token in a cookie and take it out of the address bar and history.
      if (await this.access.accepts(token.trim())) {
        res.setHeader('set-cookie', this.access.signInCookie(token.trim(), req));
        return res.redirect(303, path);
      }
      return this.html(
        res,
        401,
        loginPage({ next: path, error: 'The token in that link is unknown or revoked.' }),
      );
    }
    const viewer: StatusViewer | null = await this.access.viewer(req);
    if (!viewer) return this.html(res, 401, loginPage({ next: path }));
    const notice = this.config.analysis === 'time-only' ? TIME_ONLY_NOTICE : null;
    this.html(res, 200, pageShell(shell(), viewer, this.config.status.refreshMs, notice));
  }

  private async requireViewer(req: Request): Promise<StatusViewer> {
    const viewer = await this.access.viewer(req);
    if (!viewer)
      throw new ProblemException(
        401,
        'UNAUTHENTICATED',
        'Unauthenticated',
        'sign in to the status page (or send Authorization: Bearer <token>)',
      );
    return viewer;
  }

  private html(res: Response, status: number, body: string): void {
    res.status(status);
    for (const [k, v] of Object.entries(STATUS_SECURITY_HEADERS)) res.setHeader(k, v);
    res.setHeader('content-type', 'text/html; charset=utf-8').send(body);
  }
}

/**
 * Whether a form post comes from a page of this control plane: the Origin header (every current
 * browser sends it on POST) names this host, or, without one, Fetch Metadata does not say
 * cross-site. Requests with neither are not from a browser and cannot carry a victim's cookies.
 */
export function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    if (origin === 'null') return false;
    try {
      const forwarded = req.headers['x-forwarded-host'];
      const host =
        (typeof forwarded === 'string' && forwarded !== '' ? forwarded.split(',')[0]!.trim() : null) ??
        req.headers.host;
      return new URL(origin).host === host;
    } catch {
      return false;
    }
  }
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

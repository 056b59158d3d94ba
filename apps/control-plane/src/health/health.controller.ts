import { Controller, Get, Inject, Res } from '@nestjs/common';

import type { Response } from 'express';
import { type PrismaClient } from '@aviary/persistence';
import { Public } from '../auth/roles';
import { PRISMA } from '../database/database.tokens';
import { TIME_ONLY_NOTICE } from '../analysis/time-only.analysis';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { FlagReconciler } from '../flags/flag-reconciler.service';
import { ControlPlaneMetrics } from '../metrics/control-plane.metrics';
import { ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ZodApiResponse } from '../common/openapi';
import { healthResponse, readinessResponse } from './health.responses';

/** A readiness probe must answer even when the database host is frozen (Kubernetes' default probe timeout is 1 s). */
const READINESS_DEADLINE_MS = 900;

function withDeadline<T>(work: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the database did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(work), deadline]).finally(() => clearTimeout(timer));
}

@ApiTags('operations')
@Public()
@Controller()
export class HealthController {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly flags: FlagReconciler,
    private readonly metrics: ControlPlaneMetrics,
    @Inject(CONTROL_PLANE_CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @ZodApiResponse(healthResponse, 'Alive')
  healthz() {
    return { status: 'ok' };
  }

  /**
   * Readiness: 503 when the database is unreachable. A flag source that rejects publishes does not
   * take the API out of service (operators need it most then) but shows here as `degraded`.
   */
  @Get('readyz')
  @ApiOperation({
    summary: 'Readiness: 503 when the database is unreachable; a failing flag source shows as degraded',
  })
  @ZodApiResponse(readinessResponse, 'Ready (or degraded)')
  @ZodApiResponse(readinessResponse, 'Not ready: the database is unreachable', 503)
  async readyz(@Res({ passthrough: true }) res: Response) {
    let database: { status: 'ok' } | { status: 'down'; error: string };
    try {
      await withDeadline(this.prisma.$queryRaw`SELECT 1`, READINESS_DEADLINE_MS);
      database = { status: 'ok' };
    } catch (err) {
      database = { status: 'down', error: err instanceof Error ? err.message : String(err) };
    }
    const flags = database.status === 'ok' ? await this.flags.status().catch(() => null) : null;
    const ready = database.status === 'ok';
    res.status(ready ? 200 : 503);
    const timeOnly = this.config.analysis === 'time-only';
    return {
      status: !ready ? 'unavailable' : flags && !flags.healthy ? 'degraded' : 'ok',
      // A deliberate setting, not a fault: said on every probe rather than degrading readiness.
      ...(timeOnly ? { warnings: [TIME_ONLY_NOTICE] } : {}),
      checks: {
        analysis: timeOnly
          ? { status: 'off', mode: this.config.analysis, message: TIME_ONLY_NOTICE }
          : { status: 'on', mode: this.config.analysis },
        database,
        flags: flags
          ? {
              status: flags.failing.length > 0 ? 'failing' : flags.drift.length > 0 ? 'drifted' : 'ok',
              ...flags,
            }
          : { status: 'unknown' },
      },
    };
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics (text exposition format)' })
  @ApiProduces('text/plain')
  @ApiResponse({
    status: 200,
    description: 'The metrics',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  async scrape(@Res() res: Response): Promise<void> {
    res.setHeader('Content-Type', this.metrics.registry.contentType);
    res.send(await this.metrics.registry.metrics());
  }
}

import 'reflect-metadata';
import { type INestApplication, Logger } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { answerClientErrors } from '@aviary/http';
import { createLogger } from '@aviary/observability';
import { LoggedAppModule, PinoNestLogger } from './common/logging';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { documentProblemResponses } from './common/openapi';
import express, { type NextFunction, type Request, type Response } from 'express';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import {
  applyMigrations,
  createPrismaClient,
  EMBEDDED_POOL_MAX,
  resolveMigrationsDir,
  startEmbeddedPostgres,
} from '@aviary/persistence';
import { AppModule } from './app.module';
import { TokensService } from './auth/tokens.service';
import { nulInUrl } from './common/json-body';
import { traceRequests } from './common/request-tracing';
import { clientErrorProblem, PROBLEM_CONTENT_TYPE, ProblemException, problemBody } from './common/problem';
import { type ControlPlaneConfig } from './config/control-plane.config';

export interface RunningControlPlane {
  readonly app: INestApplication;
  readonly url: string;
  readonly databaseUrl: string;
  readonly embedded: boolean;
  /** Set only when this start generated the bootstrap admin token (first start without AVIARY_ADMIN_TOKEN). */
  readonly generatedAdminToken: string | null;
  close(): Promise<void>;
}

/**
 * Boots the control plane: database (external PostgreSQL, or embedded PGlite when DATABASE_URL is
 * unset), migrations, bootstrap admin token, then the HTTP API.
 */
export async function startControlPlane(
  config: ControlPlaneConfig,
  opts: { logDestination?: DestinationStream } = {},
): Promise<RunningControlPlane> {
  const pinoLogger = createLogger({
    service: 'aviary-control-plane',
    level: config.logLevel,
    format: config.logFormat,
    ...(opts.logDestination ? { output: opts.logDestination } : {}),
  });
  const appLogger = new PinoNestLogger(pinoLogger, config.logLevel === 'debug');
  Logger.overrideLogger(appLogger);
  const logger = new Logger('Aviary');
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse())
      await fn().catch((err: unknown) => logger.warn(`shutdown step failed: ${String(err)}`));
  };
  try {
    let databaseUrl: string;
    let poolMax = config.database.poolMax;
    const embedded = config.database.url === null;
    if (config.database.url !== null) {
      databaseUrl = config.database.url;
    } else {
      const dataDir = resolve(config.database.dataDir, 'pg');
      await mkdir(dataDir, { recursive: true });
      const db = await startEmbeddedPostgres({ dataDir, log: (m: string) => logger.log(m) });
      cleanups.push(() => db.stop());
      databaseUrl = db.url;
      poolMax = EMBEDDED_POOL_MAX;
      logger.log(`embedded PostgreSQL (PGlite) at ${dataDir}`);
    }
    const client = createPrismaClient({
      url: databaseUrl,
      poolMax,
      connectionTimeoutMs: config.database.connectTimeoutMs,
      queryTimeoutMs: config.database.queryTimeoutMs,
    });
    cleanups.push(() => client.close());
    const { applied } = await applyMigrations(client.pool, {
      migrationsDir: resolveMigrationsDir(),
      log: (m: string) => logger.log(m),
    });
    if (applied.length > 0) logger.log(`applied migrations: ${applied.join(', ')}`);

    const app = await NestFactory.create(
      LoggedAppModule.wrap(AppModule.register(config, client.prisma), pinoLogger),
      {
        bodyParser: false,
        logger: appLogger,
      },
    );
    answerClientErrors(app.getHttpServer() as Server, clientErrorProblem, (m) => logger.debug(m));
    const tracing = traceRequests();
    if (tracing) app.use(tracing);
    // A path or query with a NUL can name nothing; PostgreSQL would refuse it as a 500.
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (!nulInUrl(req.originalUrl)) return next();
      const problem = ProblemException.validation(
        [{ field: 'url', message: 'must not contain the NUL character (%00)' }],
        'request URL',
      );
      res
        .status(400)
        .type(PROBLEM_CONTENT_TYPE)
        .send(JSON.stringify(problemBody(problem, req.path)));
    });
    // Bodies are only buffered here; JsonBodyInterceptor parses them after authentication. A rollout
    // may carry a golden set (up to 2,000,000 characters), so its route takes a larger body.
    const json = ['application/json', 'application/*+json'];
    app.use(
      '/api/v1/rollouts',
      express.raw({ limit: Math.max(config.maxBodyBytes, config.maxRolloutBodyBytes), type: json }),
    );
    app.use(express.raw({ limit: config.maxBodyBytes, type: json }));
    // The status page's sign-in form is the only form the control plane accepts.
    app.use('/status/login', express.urlencoded({ extended: false, limit: '8kb' }));
    const document = documentProblemResponses(
      SwaggerModule.createDocument(
        app,
        new DocumentBuilder()
          .setTitle('Aviary admin API')
          .setDescription(
            'Register model versions and drive rollouts: shadow, canary steps, promotion and instant rollback.',
          )
          .setVersion('1')
          // Aviary tokens are opaque (avy_…), not JWTs.
          .addBearerAuth({
            type: 'http',
            scheme: 'bearer',
            bearerFormat: 'opaque',
            description: 'An Aviary API token (avy_…): POST /api/v1/tokens, or the bootstrap admin token',
          })
          .build(),
      ),
    );
    SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/openapi.json', raw: ['json'] });

    const { generated } = await app.get(TokensService).bootstrap(config.adminToken);
    if (generated && embedded) {
      const file = join(resolve(config.database.dataDir), 'admin-token');
      await writeFile(file, `${generated}\n`, { mode: 0o600 });
      await chmod(file, 0o600);
    }

    await app.listen(config.port, config.host);
    cleanups.push(() => app.close());
    const address = (app.getHttpServer() as Server).address() as AddressInfo;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${host}:${address.port}`;
    return {
      app,
      url,
      databaseUrl,
      embedded,
      generatedAdminToken: generated,
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** The admin token an embedded install generated at its first start, if it kept one. */
export async function readStoredAdminToken(dataDir: string): Promise<string | null> {
  try {
    return (await readFile(join(resolve(dataDir), 'admin-token'), 'utf8')).trim() || null;
  } catch {
    return null;
  }
}

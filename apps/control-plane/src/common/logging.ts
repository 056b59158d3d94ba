import { type LoggerService, Module, type DynamicModule } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { LoggerModule } from 'nestjs-pino';
import type { Logger } from 'pino';

/** Nest's start-up chatter (every mapped route) only at debug level. */
const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * What routers poll (the built-in flag feed every AVIARY_FLAGS_REFRESH_MS, the key feed): their
 * answered polls are debug lines, or a router's two lines a second would bury everything else.
 */
const POLLS = /^\/api\/(client\/features|router\/keys)\b/;

/** A caller's own request id is kept when it looks like one (no spaces, control characters or floods). */
const REQUEST_ID = /^[\w.:-]{1,128}$/;

const text = (message: unknown) =>
  typeof message === 'string'
    ? message
    : message instanceof Error
      ? message.message
      : JSON.stringify(message);

/**
 * Nest's logger interface onto the process's pino logger: every line the framework and the
 * services write (`new Logger(ctx)`) becomes one pino object with its `context`.
 */
export class PinoNestLogger implements LoggerService {
  constructor(
    private readonly pino: Logger,
    private readonly verbose_: boolean,
  ) {}

  log(message: unknown, context?: string): void {
    if (!this.verbose_ && context && FRAMEWORK_CONTEXTS.has(context)) return;
    this.pino.info({ context }, text(message));
  }
  warn(message: unknown, context?: string): void {
    this.pino.warn({ context }, text(message));
  }
  error(message: unknown, stack?: string, context?: string): void {
    this.pino.error({ context, ...(stack ? { stack } : {}) }, text(message));
  }
  debug(message: unknown, context?: string): void {
    this.pino.debug({ context }, text(message));
  }
  verbose(message: unknown, context?: string): void {
    this.pino.trace({ context }, text(message));
  }
}

/**
 * nestjs-pino's HTTP logging: one line per request with its id (`reqId`), the caller's
 * `X-Request-Id` when it sent a usable one, else a fresh UUID, echoed in the response header.
 * Only method, URL and status are logged: never the Authorization header or a body.
 */
export function requestLogging(logger: Logger): DynamicModule {
  return LoggerModule.forRoot({
    pinoHttp: {
      logger,
      genReqId(req: IncomingMessage, res: ServerResponse) {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // At the top level too, where log queries look first (`reqId = …`).
      customProps: (req) => ({ reqId: req.id }),
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (req, res, err) =>
        err || res.statusCode >= 500
          ? 'error'
          : res.statusCode >= 400
            ? 'warn'
            : POLLS.test(req.url ?? '')
              ? 'debug'
              : 'info',
      customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
      customErrorMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
      // Probes and scrapes every few seconds would drown the log.
      autoLogging: { ignore: (req) => /^\/(healthz|readyz|metrics)\b/.test(req.url ?? '') },
    },
  });
}

/** The app module with request logging around it. */
@Module({})
export class LoggedAppModule {
  static wrap(app: DynamicModule, logger: Logger): DynamicModule {
    return { module: LoggedAppModule, imports: [requestLogging(logger), app] };
  }
}

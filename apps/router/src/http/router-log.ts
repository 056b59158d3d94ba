import type { Logger } from 'pino';
import { createLogger, type LogFormat, type LogLevel } from '@aviary/observability';

/**
 * How the router's parts write a log line. `fields` go into the line as they are: a line about one
 * request carries its `requestId` (and `traceId` while tracing is on), as its access-log line does.
 */
export type Log = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void;

/** A Log writing to a pino logger. */
export function pinoLog(logger: Logger): Log {
  return (level, message, fields) => (fields ? logger[level](fields, message) : logger[level](message));
}

/** The router's own log: pino, JSON lines by default, readable lines with `pretty`. */
export function routerLog(opts: { level: LogLevel; format: LogFormat }): Log {
  return pinoLog(createLogger({ service: 'aviary-router', ...opts }));
}

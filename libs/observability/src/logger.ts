import { trace } from '@opentelemetry/api';
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * The active span's ids on every line written inside it (a control-plane request, its flag
 * publish): logs and traces correlate. Nothing is active while tracing is off.
 */
function traceIds(): object {
  const span = trace.getActiveSpan();
  // A fresh object: pino merges the line's own fields into what the mixin returns.
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

/**
 * The one logger of every Aviary process: pino, one JSON object per line by default (what log
 * pipelines read); `pretty` (pino-pretty, in-process, no worker thread) for a terminal, as `npm start` sets.
 */
export function createLogger(opts: {
  service: string;
  level: LogLevel;
  format: LogFormat;
  /** Where lines go (tests capture them); stdout by default. */
  output?: DestinationStream;
}): Logger {
  const destination =
    opts.format === 'pretty'
      ? pretty({
          colorize: !opts.output && Boolean(process.stdout.isTTY),
          translateTime: 'SYS:HH:MM:ss.l',
          // One line per entry in a terminal: the context as a prefix, and a request line's
          // method, URL and status are its message already (the JSON format keeps every field).
          messageFormat: '{if context}[{context}] {end}{msg}',
          ignore: 'pid,hostname,service,context,req,res,responseTime,reqId',
          sync: true,
          ...(opts.output ? { destination: opts.output } : {}),
        })
      : (opts.output ?? pino.destination({ dest: 1, sync: false }));
  return pino(
    {
      level: opts.level,
      base: { service: opts.service },
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin: traceIds,
    },
    destination,
  );
}

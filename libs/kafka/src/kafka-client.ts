import { Kafka, logLevel, type ISocketFactory, type LogEntry, type SASLOptions } from 'kafkajs';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { installKafkajsNativeCrc32c } from './kafkajs-crc32c';
import { installKafkajsIdleLoopFix } from './kafkajs-idle-loop-fix';

export type KafkaLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** Messages carry no prefix; callers add their own (e.g. `kafka: `). */
export type KafkaLog = (level: KafkaLogLevel, message: string) => void;

/** How to reach the cluster; shared by the publisher, the subscriber and `ensureTopics`. */
export interface KafkaConnectionOptions {
  /** Bootstrap servers, `host:port`. */
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** `true` for TLS with the system's CAs, or node:tls options (CA, client certificate). */
  readonly ssl?: boolean | TlsConnectionOptions;
  /** SASL PLAIN / SCRAM / OAUTHBEARER / AWS, passed to kafkajs as is. */
  readonly sasl?: SASLOptions;
  /** TCP (and TLS) connect timeout per broker. Default 3000. */
  readonly connectionTimeoutMs?: number;
  /** How long one request may wait for its response. Default 10,000. */
  readonly requestTimeoutMs?: number;
  /**
   * Opens the sockets instead of node:net / node:tls, e.g. to go through a tunnel. Kafka clients connect to
   * the addresses brokers advertise, not to the bootstrap address, so redirecting here is the only way to
   * put something in the path of every connection (the integration test routes through a cut-able proxy).
   */
  readonly socketFactory?: ISocketFactory;
  /** Where warnings and errors go (kafkajs' own included, rate-limited). Default: nowhere. */
  readonly log?: KafkaLog;
}

export type { ISocketFactory, SASLOptions };

/** kafkajs logs every failed request; during an outage that is several lines a second. */
const LOG_WINDOW_MS = 10_000;
const LOG_LINES_PER_WINDOW = 10;

/** kafkajs lines that are expected given how this library drives kafkajs (see the publisher). */
const EXPECTED_KAFKAJS_LINES = [/Limiting retries for the idempotent producer/];

export function createKafka(options: KafkaConnectionOptions, kafkajsRetries?: number): Kafka {
  installKafkajsIdleLoopFix();
  const log = options.log;
  const crc = installKafkajsNativeCrc32c();
  // Said per client; kafkajs' own checksum still works, only slower.
  if (!crc.installed)
    log?.('info', `record batches checksummed by kafkajs' JavaScript CRC-32C: ${crc.reason}`);
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    ...(options.ssl !== undefined ? { ssl: options.ssl } : {}),
    ...(options.sasl !== undefined ? { sasl: options.sasl } : {}),
    ...(options.socketFactory !== undefined ? { socketFactory: options.socketFactory } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? 3_000,
    requestTimeout: options.requestTimeoutMs ?? 10_000,
    ...(kafkajsRetries !== undefined
      ? { retry: { retries: kafkajsRetries, initialRetryTime: 100, maxRetryTime: 1_000 } }
      : {}),
    logLevel: log ? logLevel.WARN : logLevel.NOTHING,
    logCreator: () => (log ? rateLimitedKafkajsLog(log) : () => undefined),
  });
}

function rateLimitedKafkajsLog(log: KafkaLog): (entry: LogEntry) => void {
  let windowStart = 0;
  let lines = 0;
  let suppressed = 0;
  return ({ namespace, level, label, log: entry }) => {
    const message = String(entry.message);
    if (EXPECTED_KAFKAJS_LINES.some((re) => re.test(message))) return;
    const now = Date.now();
    if (now - windowStart >= LOG_WINDOW_MS) {
      if (suppressed > 0) log('warn', `kafkajs: ${suppressed} more log lines suppressed in the last window`);
      windowStart = now;
      lines = 0;
      suppressed = 0;
    }
    if (++lines > LOG_LINES_PER_WINDOW) {
      suppressed++;
      return;
    }
    const error = typeof entry.error === 'string' ? `: ${entry.error}` : '';
    const broker = typeof entry.broker === 'string' ? ` (${entry.broker})` : '';
    log(
      level <= logLevel.ERROR ? 'error' : 'warn',
      `kafkajs ${label} [${namespace}] ${message}${error}${broker}`,
    );
  };
}

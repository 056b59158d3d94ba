import { loadConfigOrExit } from '@aviary/config';
import { ensureTopics, KafkaEventSubscriber, kafkaSecurity } from '@aviary/kafka';
import { createLogger } from '@aviary/observability';
import { createPrismaClient } from '@aviary/persistence';
import { EVIDENCE_TOPICS, startAnalyzer, type Log } from './analyzer';
import { judgeSettings, loadAnalyzerConfig } from './config/analyzer.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(() => loadAnalyzerConfig());
  const logger = createLogger({
    service: 'aviary-analyzer',
    level: config.AVIARY_LOG_LEVEL,
    format: config.AVIARY_LOG_FORMAT,
  });
  const log: Log = (level, message) => logger[level](message);
  const db = createPrismaClient({
    url: config.DATABASE_URL,
    poolMax: config.DATABASE_POOL_MAX,
    log: (m) => log('warn', m),
  });
  const connection = {
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID,
    ...kafkaSecurity(config),
  };
  await ensureTopics(connection, [...EVIDENCE_TOPICS], config.AVIARY_KAFKA_PARTITIONS).catch((err: unknown) =>
    log('warn', `could not check Kafka topics: ${err instanceof Error ? err.message : String(err)}`),
  );
  const subscriber = new KafkaEventSubscriber({
    ...connection,
    groupId: config.AVIARY_ANALYZER_GROUP_ID,
    fromBeginning: config.AVIARY_ANALYZER_FROM_BEGINNING,
    log: (level, m) => log(level === 'error' ? 'error' : level === 'warn' ? 'warn' : 'debug', `kafka: ${m}`),
  });
  const analyzer = await startAnalyzer(
    {
      bucketSeconds: config.AVIARY_ANALYZER_BUCKET_SECONDS,
      dedupHours: config.AVIARY_ANALYZER_DEDUP_HOURS,
      pairSamplesPerRollout: config.AVIARY_ANALYZER_PAIR_SAMPLES,
      http: { port: config.AVIARY_ANALYZER_PORT, host: config.AVIARY_BIND_HOST },
      judge: judgeSettings(config),
    },
    { prisma: db.prisma, subscriber, log },
  );
  log(
    'info',
    `Aviary analyzer reading ${EVIDENCE_TOPICS.join(', ')} as group ${config.AVIARY_ANALYZER_GROUP_ID}; health on ${analyzer.url}`,
  );
  const stop = () => {
    void analyzer
      .close()
      .then(() => db.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(
    `analyzer failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});

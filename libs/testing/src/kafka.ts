/** The Kafka broker tests use: KAFKA_BROKERS (npm test starts one with scripts/services/kafka.sh). */
export function testKafkaBrokers(): string[] {
  const list = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter(Boolean);
  if (list.length === 0)
    throw new Error(
      'KAFKA_BROKERS is not set: run `bash scripts/services/kafka.sh` (npm test does) and export KAFKA_BROKERS',
    );
  return list;
}

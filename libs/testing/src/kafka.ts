/** The Kafka broker tests use: KAFKA_BROKERS (npm test starts one with scripts/services/kafka.sh). */
export function testKafkaBrokers(): string[] {
  const list = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter(Boolean);
  if (list.length === 0)
    throw new Error(
      'KAFKA_BROKERS is not set: run `bash scripts/services/kafka.sh` (npm test does) and export KAFKA_BROKERS',
    );
  return list;
}

/** The unleash-server tests use: UNLEASH_URL (npm test starts one with scripts/services/unleash.sh). */
export function testUnleashUrl(): string {
  const url = process.env['UNLEASH_URL'];
  if (!url)
    throw new Error(
      'UNLEASH_URL is not set: run `bash scripts/services/unleash.sh` (npm test does) and export UNLEASH_URL',
    );
  return url.replace(/\/+$/, '');
}

/**
 * A call to the test unleash-server's admin API, as an Unleash user would make it (the test server
 * runs without admin auth): the parsed JSON answer, or null for an empty one.
 */
export async function unleashAdmin(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${testUnleashUrl()}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw new Error(`unleash ${method} ${path}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as unknown) : null;
}

import { once } from 'node:events';
import { Unleash } from 'unleash-client';
import { CANDIDATE_VARIANT, decodeRoutingVariant } from '@aviary/flags';
import { flagNameForModel } from '@aviary/domain';

/** A real unleash-client, as a router would run it, synchronised before it is returned. */
export async function startUnleashClient(opts: {
  url: string;
  token?: string;
  refreshIntervalMs?: number;
  appName?: string;
}): Promise<Unleash> {
  const client = new Unleash({
    url: opts.url,
    appName: opts.appName ?? 'aviary-test',
    instanceId: `test-${process.pid}-${Math.random().toString(36).slice(2)}`,
    refreshInterval: opts.refreshIntervalMs ?? 100,
    disableMetrics: true,
    ...(opts.token ? { customHeaders: { Authorization: opts.token } } : {}),
  });
  client.on('error', () => {});
  client.on('warn', () => {});
  await once(client, 'synchronized');
  return client;
}

/** Stickiness keys the way a router forms them. */
export function users(n: number, prefix = 'user'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
}

/** Which of `keys` the client routes to the candidate of `model`. */
export function candidateUsers(client: Unleash, model: string, keys: readonly string[]): Set<string> {
  const flag = flagNameForModel(model);
  const out = new Set<string>();
  for (const userId of keys) {
    const decoded = decodeRoutingVariant(client.getVariant(flag, { userId }));
    if (decoded?.role === CANDIDATE_VARIANT) out.add(userId);
  }
  return out;
}

/** The routing revision the client currently holds for `model` (any user's variant carries it). */
export function heldRevision(client: Unleash, model: string): number | null {
  return (
    decodeRoutingVariant(client.getVariant(flagNameForModel(model), { userId: 'probe' }))?.revision ?? null
  );
}

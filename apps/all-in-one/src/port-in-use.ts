/** A port `npm start` listens on, and the variable that moves it. */
export interface OwnPort {
  readonly port: number;
  readonly what: string;
  readonly env: string;
}

/**
 * What to tell someone whose `npm start` found one of its ports taken (usually another Aviary, or
 * its demo model servers, still running); null for any other start-up failure.
 */
export function portInUseMessage(err: unknown, ports: readonly OwnPort[]): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; port?: unknown; address?: unknown };
  if (e.code !== 'EADDRINUSE' || typeof e.port !== 'number') return null;
  const own = ports.find((p) => p.port === e.port);
  const where = typeof e.address === 'string' ? ` on ${e.address}` : '';
  const moved = ports.map((p, i) => `${p.env}=${9090 + i}`).join(' ');
  return [
    `port ${e.port}${where} is in use${own ? ` (${own.what}; ${own.env})` : ''}.`,
    'Another Aviary (npm start) or another program may be listening there: stop it, or start this one',
    `on other ports, with a data directory of its own: ${moved} AVIARY_DATA_DIR=.aviary-2 npm start`,
  ].join('\n');
}

import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Refuse connections and cut the open ones: the target looks down. */
  cut(): Promise<void>;
  /** Accept connections again on the same port (and forward them again after `hang`). */
  restore(): Promise<void>;
  /**
   * A black hole (a frozen host, a dropped route): connections stay open and new ones are accepted,
   * but nothing is forwarded in either direction until thaw().
   */
  freeze(): void;
  thaw(): void;
  /**
   * Cut the open connections, then accept new ones and never answer: a target that hangs (the
   * worst case for a caller, which only a timeout of its own ends).
   */
  hang(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of a real service, to take it "down" and back up during a test. */
export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let frozen = false;
  let server: Server | null = null;
  let port = 0;
  let hanging = false;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        if (hanging) {
          // Read and drop whatever arrives; answer nothing.
          sockets.add(client);
          client.on('data', () => undefined);
          client.on('error', () => client.destroy()).on('close', () => sockets.delete(client));
          return;
        }
        const upstream = createConnection({ host: targetHost, port: targetPort });
        const pair = { client, upstream };
        sockets.add(client).add(upstream);
        pairs.add(pair);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
          pairs.delete(pair);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        if (frozen) hold(pair);
        else forward(pair);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });
  const cutOpen = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };
  await listen();
  return {
    freeze: () => {
      frozen = true;
      for (const pair of pairs) hold(pair);
    },
    thaw: () => {
      frozen = false;
      for (const pair of pairs) forward(pair);
    },
    port,
    url: `http://127.0.0.1:${port}`,
    cut: stop,
    restore: async () => {
      hanging = false;
      if (server) cutOpen();
      else await listen();
    },
    hang: async () => {
      hanging = true;
      cutOpen();
      if (!server) await listen();
    },
    close: stop,
  };
}

function forward({ client, upstream }: { client: Socket; upstream: Socket }): void {
  client.pipe(upstream);
  upstream.pipe(client);
  client.resume();
  upstream.resume();
}

function hold({ client, upstream }: { client: Socket; upstream: Socket }): void {
  client.unpipe(upstream);
  upstream.unpipe(client);
  client.pause();
  upstream.pause();
}

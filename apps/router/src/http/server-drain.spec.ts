import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { ServerDrain } from './server-drain';

/** A server whose handler answers after `delayMs`, each request tracked. */
async function serve(
  delayMs: number,
): Promise<{ server: Server; drain: ServerDrain; port: number; entered: Promise<void> }> {
  let enter!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const server = createServer((_req, res) => {
    drain.track(res);
    enter();
    setTimeout(() => res.end('done'), delayMs).unref();
  });
  const drain = new ServerDrain(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, drain, port: (server.address() as AddressInfo).port, entered };
}

function get(port: number): Promise<{ status: number; body: string } | Error> {
  return new Promise((resolve) => {
    const req = request({ port, host: '127.0.0.1', path: '/' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', resolve);
    });
    req.on('error', resolve);
    req.end();
  });
}

describe('ServerDrain', () => {
  it('is not held up by a connection on which no request was sent', async () => {
    const { drain, port } = await serve(0);
    const empty = connect(port, '127.0.0.1');
    await new Promise((resolve) => empty.once('connect', resolve));
    const started = Date.now();
    await drain.close(10_000);
    expect(Date.now() - started).toBeLessThan(1000);
    await new Promise((resolve) => (empty.destroyed ? resolve(null) : empty.once('close', resolve)));
  });

  it('lets a request in flight finish before it closes', async () => {
    const { drain, port, entered } = await serve(300);
    const answer = get(port);
    await entered; // the request is in the handler
    const started = Date.now();
    await drain.close(10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(await answer).toEqual({ status: 200, body: 'done' });
  });

  it('cuts a request that outlasts the grace period', async () => {
    const { drain, port, entered } = await serve(60_000);
    const answer = get(port);
    await entered;
    const started = Date.now();
    await drain.close(300);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await answer).toMatchObject({ code: 'ECONNRESET' }); // cut, not answered
  });
});

import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { answerClientErrors, clientErrorKind, type ClientErrorKind } from './client-errors';

/** A node:http server with answerClientErrors; its handler answers 200 "ok". */
async function serve(): Promise<{ server: Server; port: number; logged: string[] }> {
  const logged: string[] = [];
  const server = createServer((_req, res) => res.end('ok'));
  answerClientErrors(
    server,
    (k: ClientErrorKind) => ({
      contentType: 'application/json',
      body: JSON.stringify({ code: k.code, message: k.message }),
      headers: { 'x-request-id': 'id-1' },
    }),
    (m) => logged.push(m),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, logged };
}

/** Sends raw bytes and returns everything the server wrote before it closed the connection. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let got = '';
    socket.on('data', (c: Buffer) => (got += c.toString('latin1')));
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
  });
}

function parse(answer: string): { status: number; headers: Record<string, string>; body: unknown } {
  const [head = '', body = ''] = answer.split('\r\n\r\n', 2);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as unknown };
}

describe('answerClientErrors', () => {
  let server: Server;
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers headers over the limit with 431 in the server’s shape, its headers, and closes', async () => {
    const s = await serve();
    server = s.server;
    const answer = parse(
      await raw(s.port, `GET / HTTP/1.1\r\nhost: x\r\nx-user: ${'u'.repeat(20_000)}\r\n\r\n`),
    );
    expect(answer.status).toBe(431);
    expect(answer.headers).toMatchObject({
      'content-type': 'application/json',
      'x-request-id': 'id-1',
      connection: 'close',
    });
    expect(answer.body).toEqual({
      code: 'request_headers_too_large',
      message: expect.stringContaining('16384 bytes') as unknown,
    });
    expect(s.logged).toEqual([expect.stringContaining('431')]);
  });

  it('answers bytes that are not HTTP with 400 and the parser code', async () => {
    const s = await serve();
    server = s.server;
    const answer = parse(await raw(s.port, 'HELLO THERE\r\n\r\n'));
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      code: 'malformed_http',
      message: expect.stringMatching(/not valid HTTP\/1\.1 \(HPE_/) as unknown,
    });
  });

  it('writes nothing into a response already begun on the connection, and closes it', async () => {
    const s = await serve();
    server = s.server;
    // One packet: the parser meets the bad bytes while the first request's answer is being written.
    const got = await raw(s.port, 'GET / HTTP/1.1\r\nhost: x\r\n\r\nNOT HTTP\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    expect(s.logged).toEqual([]);
  });
});

describe('clientErrorKind', () => {
  it.each([
    ['HPE_HEADER_OVERFLOW', 431, 'request_headers_too_large'],
    ['HPE_CHUNK_EXTENSIONS_OVERFLOW', 413, 'request_too_large'],
    ['ERR_HTTP_REQUEST_TIMEOUT', 408, 'request_timeout'],
    ['HPE_INVALID_METHOD', 400, 'malformed_http'],
    [undefined, 400, 'malformed_http'],
  ])('maps %s to %i %s, the status node:http would answer', (code, status, kind) => {
    expect(clientErrorKind(code)).toMatchObject({ status, code: kind });
  });
});

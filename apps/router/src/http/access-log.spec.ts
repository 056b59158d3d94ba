import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { AccessLog } from './access-log';
import { RequestScope } from './request-scope';

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe(AccessLog.name, () => {
  it('writes one JSON line per request once its answer is out, with the request id and who served it', async () => {
    const { lines, stream } = capture();
    const log = new AccessLog(stream);
    const server = createServer((req, res) => {
      const scope = new RequestScope(req.method ?? '', req.url ?? '');
      log.watch(scope, res);
      Object.assign(scope, {
        endpoint: 'chat.completions',
        model: 'm',
        version: 'v1',
        role: 'baseline',
        stream: false,
      });
      scope.requestId = 'avy-signed';
      res.writeHead(201).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      await (
        await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`)
      ).text();
      for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(lines).toEqual([
        expect.objectContaining({
          msg: 'request',
          service: 'aviary-router',
          requestId: 'avy-signed',
          method: 'GET',
          path: '/v1/chat/completions',
          endpoint: 'chat.completions',
          model: 'm',
          version: 'v1',
          role: 'baseline',
          status: 201,
          completed: true,
          latencyMs: expect.any(Number) as number,
        }),
      ]);
    } finally {
      server.close();
    }
  });
});

describe(RequestScope.name, () => {
  it('gives an answer without a signed id an unsigned one, the same every time it is asked', () => {
    const scope = new RequestScope('POST', '/v1/x');
    expect(scope.requestId).toMatch(/^avy-[\w-]{12}$/);
    expect(scope.requestId).toBe(scope.requestId);
  });
});

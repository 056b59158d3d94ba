import fs, { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AccessLog, accessLogDestination } from './access-log';
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
          level: 30,
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
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

describe(accessLogDestination.name, () => {
  it('writes lines of requests that end one after another in a few batched writes, none lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aviary-access-log-'));
    const file = join(dir, 'access.log');
    const write = jest.spyOn(fs, 'write');
    try {
      const log = new AccessLog(accessLogDestination(file));
      for (let i = 0; i < 40; i++) {
        // A finished response, one every millisecond or so (a sequential client).
        const res = {
          once: (_event: string, done: () => void) => setImmediate(done),
          headersSent: true,
          statusCode: 200,
          writableFinished: true,
        } as unknown as ServerResponse;
        log.watch(new RequestScope('POST', `/v1/chat/completions?i=${i}`), res);
        await new Promise((r) => setTimeout(r, 1));
      }
      await log.flush();
      expect(write.mock.calls.length).toBeLessThanOrEqual(5);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(40);
      expect(lines.map((l) => (JSON.parse(l) as { path: string }).path)).toContain(
        '/v1/chat/completions?i=39',
      );
    } finally {
      write.mockRestore();
      rmSync(dir, { recursive: true, force: true });
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

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvValidationError } from '@aviary/config';
import { loadRouterConfig } from '../config/router.config';
import { Cors, corsOriginProblem } from './cors';

const APP = 'https://app.example.com';

/** A server answering every request it is let through with 200 and an x-aviary-request-id. */
async function serve(cors: Cors): Promise<{ url: string; served: string[]; close(): Promise<void> }> {
  const served: string[] = [];
  const server: Server = createServer((req, res) => {
    void cors.handle(req, res).then((goOn) => {
      if (!goOn) return;
      served.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json', 'x-aviary-request-id': 'avy-1' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe(Cors.name, () => {
  it('lets an allowed origin read the answer and its request id, and says nothing to others', async () => {
    const s = await serve(new Cors([APP, 'http://localhost:5173']));
    try {
      const ok = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { origin: APP } });
      expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
      expect(ok.headers.get('vary')).toContain('Origin');
      expect(ok.headers.get('access-control-expose-headers')).toContain('x-aviary-request-id');
      expect(ok.headers.get('access-control-allow-credentials')).toBeNull();
      const other = await fetch(`${s.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { origin: 'https://evil.example.net' },
      });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      expect(s.served).toHaveLength(2); // the browser, not the router, withholds the answer
    } finally {
      await s.close();
    }
  });

  it('answers a preflight itself, allowing the headers it asks for (authorization, the SDK headers)', async () => {
    const s = await serve(new Cors([APP]));
    try {
      const res = await fetch(`${s.url}/v1/responses`, {
        method: 'OPTIONS',
        headers: {
          origin: APP,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-stainless-os',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(res.headers.get('access-control-allow-methods')).toBe('GET,POST,DELETE');
      expect(res.headers.get('access-control-allow-headers')).toBe(
        'authorization,content-type,x-stainless-os',
      );
      expect(res.headers.get('access-control-max-age')).toBe('600');
      expect(s.served).toEqual([]); // never reaches authentication or a handler
    } finally {
      await s.close();
    }
  });

  it('allows any origin with *', async () => {
    const s = await serve(new Cors(['*']));
    try {
      const res = await fetch(`${s.url}/v1/models`, { headers: { origin: 'http://anything.test:8000' } });
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await s.close();
    }
  });

  it('is off without origins', () => {
    expect(Cors.fromConfig([])).toBeNull();
  });
});

describe(corsOriginProblem.name, () => {
  // prettier-ignore
  it.each([
    { origins: [APP, 'http://localhost:5173', '*'], problem: null },
    { origins: ['https://app.example.com/'], problem: /use "https:\/\/app.example.com"/ },
    { origins: ['https://app.example.com/chat'], problem: /no path/ },
    { origins: ['app.example.com'], problem: /is not an origin/ },
  ])('$origins → $problem', ({ origins, problem }) => {
    const got = corsOriginProblem(origins);
    if (problem === null) expect(got).toBeNull();
    else expect(got).toMatch(problem);
  });

  it('stops the router from starting, naming the setting', () => {
    const load = () => loadRouterConfig({ AVIARY_CORS_ORIGINS: 'https://app.example.com/' });
    expect(load).toThrow(EnvValidationError);
    expect(load).toThrow(/AVIARY_CORS_ORIGINS/);
    expect(
      loadRouterConfig({ AVIARY_CORS_ORIGINS: `${APP},http://localhost:5173` }).AVIARY_CORS_ORIGINS,
    ).toEqual([APP, 'http://localhost:5173']);
  });
});

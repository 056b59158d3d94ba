import { createTestDatabase, lineCapture, type TestDatabase } from '@aviary/testing';
import { loadControlPlaneConfig } from '../src/config/control-plane.config';
import { type RunningControlPlane, startControlPlane } from '../src/control-plane';
import { ADMIN_TOKEN } from './harness';

// The control plane logs through pino (nestjs-pino for requests): JSON lines, a request id per
// request (the caller's X-Request-Id when usable), and never the token it was called with.

describe('control-plane logs', () => {
  let db: TestDatabase;
  let cp: RunningControlPlane;
  const { lines, output } = lineCapture();
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane(
      loadControlPlaneConfig({
        DATABASE_URL: db.url,
        AVIARY_CONTROL_PLANE_PORT: '0',
        AVIARY_ADMIN_TOKEN: ADMIN_TOKEN,
        AVIARY_LOG_LEVEL: 'info',
        AVIARY_LOG_FORMAT: 'json',
      }),
      { logDestination: output },
    );
  });
  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('writes every line as JSON with service, level, time and message', () => {
    expect(lines.length).toBeGreaterThan(0);
    for (const r of records()) {
      expect(r['service']).toBe('aviary-control-plane');
      expect([typeof r['level'], typeof r['msg'], typeof r['time']]).toEqual(['number', 'string', 'string']);
    }
    expect(records().some((r) => typeof r['context'] === 'string')).toBe(true);
  });

  it("logs each request once with the caller's request id, echoed in the response", async () => {
    const res = await fetch(`${cp.url}/api/v1/models`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-request-id': 'req-abc-123' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-abc-123');
    const mine = records().filter((r) => r['reqId'] === 'req-abc-123');
    expect(mine).toHaveLength(1);
    expect(typeof mine[0]!['responseTime']).toBe('number');
    expect(mine[0]).toMatchObject({
      level: 30,
      req: { method: 'GET', url: '/api/v1/models' },
      res: { statusCode: 200 },
    });
  });

  it('makes up an id for a request without a usable one, logs 4xx as warnings, never the token', async () => {
    const res = await fetch(`${cp.url}/api/v1/models/nope`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-request-id': 'has spaces\tand tabs' },
    });
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((r) => setTimeout(r, 50));
    expect(records().find((r) => r['reqId'] === id)).toMatchObject({ level: 40, res: { statusCode: 404 } });
    expect(lines.join('\n')).not.toContain(ADMIN_TOKEN);
    expect(lines.join('\n').toLowerCase()).not.toContain('authorization');
  });

  it("keeps routers' answered polls of the flag and key feeds out of the info log", async () => {
    const poll = await fetch(`${cp.url}/api/client/features`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-request-id': 'poll-1' },
    });
    expect(poll.status).toBe(200);
    const other = await fetch(`${cp.url}/api/v1/models`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-request-id': 'after-poll-1' },
    });
    expect(other.status).toBe(200);
    await new Promise((r) => setTimeout(r, 50));
    expect(records().find((r) => r['reqId'] === 'after-poll-1')).toBeDefined();
    expect(records().find((r) => r['reqId'] === 'poll-1')).toBeUndefined();
  });
});

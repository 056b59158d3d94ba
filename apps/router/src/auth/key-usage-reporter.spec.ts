import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeyLimits, type KeyUsageReport } from './key-limits';
import { KeyUsageReporter } from './key-usage-reporter';
import { routerKey } from '../../test/proxy-fakes';

const key = routerKey({ tokensPerDay: 100 });
const today = () => new Date().toISOString().slice(0, 10);

/** A stand-in for the control plane's usage API: answers with `status` and sums what it counted. */
async function usageApi() {
  const received: { auth: string | undefined; report: KeyUsageReport }[] = [];
  const counted = new Set<string>();
  let tokens = 0;
  let status = 200;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const report = JSON.parse(body) as KeyUsageReport;
      received.push({ auth: req.headers.authorization, report });
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'application/problem+json' }).end('{"title":"no"}');
        return;
      }
      if (!counted.has(report.reportId)) {
        counted.add(report.reportId);
        for (const u of report.usage) tokens += u.tokens;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ day: today(), counted: true, usage: { k1: { tokens, requests: 0 } } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/router/key-usage`,
    received,
    total: () => tokens,
    answer: (s: number) => (status = s),
    close: () => new Promise((r) => server.close(r)),
  };
}

describe(KeyUsageReporter.name, () => {
  let api: Awaited<ReturnType<typeof usageApi>>;
  beforeEach(async () => (api = await usageApi()));
  afterEach(() => api.close());

  const reporter = (limits: KeyLimits, log?: (l: 'info' | 'warn', m: string) => void) =>
    new KeyUsageReporter({ url: api.url, token: 'tok', intervalMs: 60_000, limits, log });

  it('reports with the router’s token and takes the fleet’s totals back', async () => {
    const limits = new KeyLimits();
    const r = reporter(limits);
    limits.charge(key, 30);
    await r.report();
    api.received.length = 0;
    // Another router's 60 tokens, as the next answer will say.
    await fetch(api.url, {
      method: 'POST',
      body: JSON.stringify({
        reportId: 'other',
        usage: [{ keyId: 'k1', day: today(), tokens: 60, requests: 1 }],
      }),
    });
    await r.report();
    expect(api.received[1]?.auth).toBe('Bearer tok');
    expect(limits.usedToday('k1')).toBe(90);
    limits.charge(key, 10);
    expect(limits.withinBudget(key)).toBe(false);
    expect(r.status()).toMatchObject({ reachable: true, lastError: null });
  });

  it('sends a report that got no answer again with the same id, counted once', async () => {
    const limits = new KeyLimits();
    const logs: string[] = [];
    const r = reporter(limits, (l, m) => logs.push(`${l} ${m}`));
    limits.charge(key, 40);
    api.answer(503);
    await r.report();
    await r.report();
    expect(r.status()).toMatchObject({ reachable: false, lastError: 'HTTP 503' });
    expect(logs.filter((l) => l.startsWith('warn'))).toHaveLength(1); // said once, not every interval
    expect(limits.usedToday('k1')).toBe(40);
    api.answer(200);
    await r.report();
    const ids = api.received.map((x) => x.report.reportId);
    expect(new Set(ids).size).toBe(1);
    expect(api.total()).toBe(40);
    expect(limits.usedToday('k1')).toBe(40);
    expect(logs.some((l) => l.startsWith('info') && l.includes('reachable again'))).toBe(true);
  });

  it('drops a report the control plane refuses (an older one without the API), still counting it here', async () => {
    const limits = new KeyLimits();
    const logs: string[] = [];
    const r = reporter(limits, (l, m) => logs.push(`${l} ${m}`));
    limits.charge(key, 70);
    api.answer(404);
    await r.report();
    limits.charge(key, 40);
    await r.report();
    expect(api.received.map((x) => x.report.usage.length)).toEqual([1, 1]); // each count sent once
    expect(logs.filter((l) => l.includes('refused'))).toHaveLength(1);
    expect(limits.withinBudget(key)).toBe(false);
  });

  it('sends what is left when it closes', async () => {
    const limits = new KeyLimits();
    const r = reporter(limits);
    await r.start(1_000);
    limits.charge(key, 25);
    await r.close(1_000);
    expect(api.total()).toBe(25);
    await r.report(); // closed: nothing more
    expect(api.received).toHaveLength(2);
  });
});

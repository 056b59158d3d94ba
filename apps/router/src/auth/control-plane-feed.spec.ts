import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ControlPlaneFeed } from './control-plane-feed';

const schema = z.object({ items: z.array(z.string()) });
type Feed = z.infer<typeof schema>;

describe(ControlPlaneFeed.name, () => {
  let server: Server;
  let base: string;
  const dir = mkdtempSync(join(tmpdir(), 'aviary-feed-'));
  const bodies: Record<string, string> = {
    short: JSON.stringify({ items: ['a'] }),
    long: JSON.stringify({ items: Array.from({ length: 2_000 }, (_, i) => `item-${i}`) }),
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = bodies[(req.url ?? '').slice(1)];
      if (body === undefined) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const feed = (path: string, backupFile: string, took: Feed[] = []) =>
    new ControlPlaneFeed<Feed>({
      name: 'test feed',
      url: `${base}/${path}`,
      refreshMs: 60_000,
      backupFile,
      schema,
      apply: (f) => took.push(f),
    });

  it('leaves a whole backup when two feeds of one process keep theirs in one file at once', async () => {
    const backupFile = join(dir, 'shared.json');
    for (let round = 0; round < 30; round++) {
      const a = feed('long', backupFile);
      const b = feed('short', backupFile);
      await Promise.all([a.start(2_000), b.start(2_000)]);
      await Promise.all([a.backedUp(), b.backedUp()]);
      a.close();
      b.close();
      const kept = readFileSync(backupFile, 'utf8');
      expect([bodies['long'], bodies['short']]).toContain(kept);
    }
  });

  it('starts from its backup, and a closed feed takes and keeps nothing more', async () => {
    const backupFile = join(dir, 'closed.json');
    const first = feed('short', backupFile);
    await first.start(2_000);
    await first.backedUp();
    const took: Feed[] = [];
    const late = feed('long', backupFile, took);
    expect(took).toEqual([{ items: ['a'] }]); // from the backup
    const polled = late.start(2_000);
    late.close(); // while its first fetch is in flight
    await polled;
    await late.backedUp();
    expect(took).toHaveLength(1);
    expect(readFileSync(backupFile, 'utf8')).toBe(bodies['short']);
  });
});

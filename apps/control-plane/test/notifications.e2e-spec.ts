import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@aviary/testing';
import { fastPlan, seedModel, startTestControlPlane, type TestControlPlane } from './harness';

interface Received {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly json: Record<string, unknown>;
}

/** A real HTTP receiver: records every POST and answers as `respond` says (200 by default). */
class Receiver {
  readonly received: Received[] = [];
  respond: (r: Received, res: ServerResponse) => void = (_r, res) => res.end('ok');
  private server!: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const r: Received = {
          path: req.url ?? '',
          headers: req.headers,
          body,
          json: JSON.parse(body) as Record<string, unknown>,
        };
        this.received.push(r);
        this.respond(r, res);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a receiver does to trust a notification: the HMAC of `<timestamp>.<body>` with its secret. */
function verify(secret: string, r: Received): boolean {
  const timestamp = String(r.headers['x-aviary-timestamp']);
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${r.body}`).digest('hex')}`;
  const got = String(r.headers['x-aviary-signature'] ?? '');
  return got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
}

/** Generous: the machine running the tests may be busy; the waits end as soon as the thing happens. */
const WAIT_MS = 20_000;
const PUBLIC_URL = 'https://aviary.example.com';
const env = {
  AVIARY_ANALYSIS: 'manual',
  AVIARY_PUBLIC_URL: PUBLIC_URL,
  AVIARY_NOTIFY_INTERVAL_MS: '100',
  AVIARY_NOTIFY_TIMEOUT_MS: '5000',
  AVIARY_NOTIFY_RETRY_BASE_MS: '150',
  AVIARY_NOTIFY_RETRY_MAX_MS: '1000',
  AVIARY_NOTIFY_MAX_ATTEMPTS: '4',
};

interface Delivery {
  id: string;
  kind: string;
  status: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  eventId: string | null;
}

describe('notifications', () => {
  let t: TestControlPlane;
  let receiver: Receiver;

  beforeAll(async () => {
    t = await startTestControlPlane(env);
    receiver = await new Receiver().start();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await receiver?.close();
  });

  async function rollout(model: string): Promise<string> {
    const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model,
      candidateVersion: 'v2-int8',
      plan: fastPlan(3600),
    });
    expect(r.status).toBe(201);
    return r.body.id;
  }

  const deliveries = async (destination: string) =>
    (
      await t.api<{ items: Delivery[] }>(
        'GET',
        `/api/v1/notifications/destinations/${destination}/deliveries`,
      )
    ).body.items;

  it('posts signed JSON for each transition, in plain words, with the status-page link', async () => {
    const { name: model } = await seedModel(t);
    const created = await t.api<{ id: string; secret: string; signed: boolean }>(
      'POST',
      '/api/v1/notifications/destinations',
      {
        name: 'oncall-hook',
        type: 'webhook',
        url: `${receiver.url}/hook`,
        model,
        kinds: ['started', 'advanced', 'paused', 'rolled_back', 'completed'],
      },
    );
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_/);
    const secret = created.body.secret;
    // Shown once: never again in a read.
    const read = await t.api<Record<string, unknown>>(
      'GET',
      '/api/v1/notifications/destinations/oncall-hook',
    );
    expect(read.body).not.toHaveProperty('secret');
    expect(read.body).toMatchObject({ signed: true, model: { name: model } });

    const id = await rollout(model);
    await t.api('POST', `/api/v1/rollouts/${id}/start`);
    await t.api('POST', `/api/v1/rollouts/${id}/promote`, { reason: 'shadow looks fine' });
    await t.api('POST', `/api/v1/rollouts/${id}/pause`, { reason: 'lunch' });
    await t.api('POST', `/api/v1/rollouts/${id}/rollback`, { reason: 'refusals up on billing questions' });

    const got = await waitFor(
      'four notifications',
      () => receiver.at('/hook').length >= 4 && receiver.at('/hook'),
    );
    expect(got.map((r) => r.json['kind'])).toEqual(['started', 'advanced', 'paused', 'rolled_back']);
    for (const r of got) {
      expect(verify(secret, r)).toBe(true);
      expect(Math.abs(Number(r.headers['x-aviary-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
      expect(r.headers['x-aviary-event']).toBe(r.json['kind']);
      expect(r.headers['x-aviary-delivery']).toMatch(/^\d+$/);
    }
    expect(verify('whsec_not-the-secret', got[0]!)).toBe(false);
    const rolledBack = got[3]!.json;
    expect(rolledBack).toMatchObject({
      v: 1,
      kind: 'rolled_back',
      title: 'Rolled back',
      message: 'Rolled back at 5% by bootstrap-admin: “refusals up on billing questions”',
      model,
      rollout: {
        id,
        phase: 'RolledBack',
        step: { index: 1, total: 6, description: '5%' },
        baseline: 'v1',
        candidate: 'v2-int8',
      },
      event: {
        type: 'RolledBack',
        actor: 'bootstrap-admin',
        automatic: false,
        reason: 'refusals up on billing questions',
      },
      statusUrl: `${PUBLIC_URL}/status/rollouts/${id}`,
    });
    // Manual analysis: the operator's promote approves the step.
    expect(got[1]!.json['message']).toBe(
      'Approved by bootstrap-admin at shadow (50% sampled), on to 5%: “shadow looks fine”',
    );

    const recorded = await waitFor(
      'all four recorded as delivered',
      async () => {
        const items = await deliveries('oncall-hook');
        return items.length === 4 && items.every((d) => d.status === 'delivered') && items;
      },
      WAIT_MS,
    );
    expect(recorded.map((d) => [d.kind, d.attempts, d.lastStatus])).toEqual([
      ['rolled_back', 1, 200],
      ['paused', 1, 200],
      ['advanced', 1, 200],
      ['started', 1, 200],
    ]);
  }, 60_000);

  it('retries with backoff while the receiver fails, then records the delivery', async () => {
    const { name: model } = await seedModel(t);
    let failuresLeft = 2;
    receiver.respond = (r, res) => {
      if (r.path === '/flaky' && failuresLeft-- > 0) {
        res.statusCode = 500;
        res.end('receiver is having a bad day');
        return;
      }
      res.end('ok');
    };
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'flaky-hook',
      type: 'webhook',
      url: `${receiver.url}/flaky`,
      model,
      kinds: ['started'],
    });
    const id = await rollout(model);
    await t.api('POST', `/api/v1/rollouts/${id}/start`);
    const done = await waitFor(
      'the delivery to succeed on its third attempt',
      async () => (await deliveries('flaky-hook')).find((d) => d.status === 'delivered'),
      WAIT_MS,
    );
    expect(done).toMatchObject({ kind: 'started', attempts: 3, lastStatus: 200, lastError: null });
    const attempts = receiver.at('/flaky');
    expect(attempts).toHaveLength(3);
    // The same notification each time: one delivery id, so a receiver can dedupe.
    expect(new Set(attempts.map((a) => a.headers['x-aviary-delivery'])).size).toBe(1);
    expect(new Set(attempts.map((a) => a.json['event'] && JSON.stringify(a.json['event']))).size).toBe(1);
  }, 60_000);

  it('gives up after the last attempt and says why', async () => {
    receiver.respond = (r, res) => {
      if (r.path === '/down') {
        res.statusCode = 503;
        res.end('maintenance');
        return;
      }
      res.end('ok');
    };
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'down-hook',
      type: 'webhook',
      url: `${receiver.url}/down`,
    });
    const queued = await t.api<Delivery>('POST', '/api/v1/notifications/destinations/down-hook/test');
    expect(queued.status).toBe(202);
    const failed = await waitFor(
      'the delivery to be given up',
      async () => (await deliveries('down-hook')).find((d) => d.status === 'failed'),
      WAIT_MS,
    );
    expect(failed).toMatchObject({
      kind: 'test',
      attempts: 4,
      lastStatus: 503,
      lastError: 'HTTP 503: maintenance',
    });
    expect(receiver.at('/down')).toHaveLength(4);
    const listed = await t.api<{ items: { name: string; deliveries: Record<string, number> }[] }>(
      'GET',
      '/api/v1/notifications/destinations',
    );
    expect(listed.body.items.find((d) => d.name === 'down-hook')?.deliveries).toEqual({
      pending: 0,
      delivered: 0,
      failed: 1,
    });
  }, 60_000);

  it('sends Slack incoming-webhook messages: text and blocks with the status-page button', async () => {
    const { name: model } = await seedModel(t);
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'slack-oncall',
      type: 'slack',
      url: `${receiver.url}/services/T000/B000/XXXX`,
      model,
      kinds: ['rolled_back'],
    });
    const id = await rollout(model);
    await t.api('POST', `/api/v1/rollouts/${id}/start`);
    await t.api('POST', `/api/v1/rollouts/${id}/rollback`, { reason: 'latency <2x> & refusals' });
    const [msg] = await waitFor(
      'a Slack message',
      () => {
        const got = receiver.at('/services/T000/B000/XXXX');
        return got.length > 0 && got;
      },
      WAIT_MS,
    );
    expect(Object.keys(msg!.json).sort()).toEqual(['blocks', 'text']);
    expect(msg!.headers['x-aviary-signature']).toBeUndefined();
    expect(msg!.json['text']).toBe(
      `:rotating_light: Rolled back: ${model} — Rolled back in shadow (50% sampled) by bootstrap-admin: “latency <2x> & refusals”`,
    );
    expect(msg!.json['blocks']).toEqual([
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `:rotating_light: *Rolled back: ${model}*\nRolled back in shadow (50% sampled) by bootstrap-admin: “latency &lt;2x&gt; &amp; refusals”`,
        },
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `v2-int8 vs v1 · step 1/6 (shadow (50% sampled)) · RolledBack · rollout ${id.slice(0, 8)} · by bootstrap-admin`,
          },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open status page' },
            url: `${PUBLIC_URL}/status/rollouts/${id}`,
          },
        ],
      },
    ]);
  }, 60_000);

  it('records an attempt the receiver never answers as timed out, and retries it', async () => {
    receiver.respond = (r, res) => {
      if (r.path !== '/hang') res.end('ok');
    };
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'hanging-hook',
      type: 'webhook',
      url: `${receiver.url}/hang`,
    });
    await t.api('POST', '/api/v1/notifications/destinations/hanging-hook/test');
    const timedOut = await waitFor(
      'a timed-out attempt recorded',
      async () => (await deliveries('hanging-hook')).find((d) => d.lastError === 'timed out'),
      WAIT_MS,
    );
    expect(timedOut).toMatchObject({ status: 'pending', lastStatus: null });
    await t.api('DELETE', '/api/v1/notifications/destinations/hanging-hook');
  }, 60_000);

  it('only sends a model-scoped destination its own model, and nothing from before it existed', async () => {
    const a = await seedModel(t);
    const b = await seedModel(t);
    const before = await rollout(a.name);
    await t.api('POST', `/api/v1/rollouts/${before}/start`);
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'only-a',
      type: 'webhook',
      url: `${receiver.url}/only-a`,
      model: a.name,
    });
    const other = await rollout(b.name);
    await t.api('POST', `/api/v1/rollouts/${other}/start`);
    await t.api('POST', `/api/v1/rollouts/${before}/pause`);
    await waitFor('the pause of model a', () => receiver.at('/only-a').length >= 1, WAIT_MS);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.at('/only-a').map((r) => [r.json['model'], r.json['kind']])).toEqual([
      [a.name, 'paused'],
    ]);
  }, 60_000);

  it('refuses bad destinations with the field named, and only admins manage them', async () => {
    const bad = async (body: Record<string, unknown>) =>
      t.api<{ errors?: { field: string }[] }>('POST', '/api/v1/notifications/destinations', {
        name: 'bad',
        type: 'webhook',
        url: 'https://hooks.example.com/x',
        ...body,
      });
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'ftp://hooks.example.com/x' }, 'url'],
      [{ url: 'https://user:pass@hooks.example.com/x' }, 'url'],
      [{ url: 'https://hooks.example.com/x#frag' }, 'url'],
      [{ type: 'email' }, 'type'],
      [{ kinds: ['rolled_back', 'exploded'] }, 'kinds[1]'],
      [{ kinds: ['paused', 'paused'] }, 'kinds'],
      [{ model: 'no-such-model' }, 'model'],
      [{ name: 'Has Spaces' }, 'name'],
      [{ secret: 'mine' }, 'secret'],
    ];
    for (const [body, field] of cases) {
      const res = await bad(body);
      expect([res.status, res.body.errors?.map((e) => e.field)]).toEqual([400, [field]]);
    }
    const token = await t.api<{ token: string }>('POST', '/api/v1/tokens', {
      name: 'op-notify',
      role: 'operator',
    });
    const asOperator = await t.api('GET', '/api/v1/notifications/destinations', undefined, {
      token: token.body.token,
    });
    expect(asOperator.status).toBe(403);
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'dup',
      type: 'slack',
      url: `${receiver.url}/d`,
    });
    const dup = await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'dup',
      type: 'slack',
      url: `${receiver.url}/d`,
    });
    expect(dup.status).toBe(409);
    expect((await t.api('GET', '/api/v1/notifications/destinations/nope')).status).toBe(404);
    expect((await t.api('GET', '/api/v1/notifications/deliveries?status=lost')).status).toBe(400);
  });

  it('records who created and deleted a destination in the audit log', async () => {
    await t.api('POST', '/api/v1/notifications/destinations', {
      name: 'audited',
      type: 'slack',
      url: `${receiver.url}/audited`,
    });
    expect((await t.api('DELETE', '/api/v1/notifications/destinations/audited')).status).toBe(200);
    const audit = await t.api<{ items: { action: string; target: string; actor: string }[] }>(
      'GET',
      '/api/v1/audit',
    );
    expect(audit.body.items.filter((e) => e.target === 'audited').map((e) => [e.action, e.actor])).toEqual([
      ['notification_destination.deleted', 'bootstrap-admin'],
      ['notification_destination.created', 'bootstrap-admin'],
    ]);
    expect((await t.api('GET', '/api/v1/notifications/destinations/audited')).status).toBe(404);
  });
});

describe('notifications and transitions', () => {
  it('never holds up a transition or a shutdown: a receiver that hangs only delays its own deliveries', async () => {
    const receiver = await new Receiver().start();
    const hanging: ServerResponse[] = [];
    receiver.respond = (r, res) => {
      if (r.path === '/hang') hanging.push(res);
      else res.end('ok');
    };
    // Attempts may take 30 s: a transition or shutdown that waited for one would take that long.
    const t = await startTestControlPlane({ ...env, AVIARY_NOTIFY_TIMEOUT_MS: '30000' });
    let closed = false;
    try {
      const { name: model } = await seedModel(t);
      for (const [name, path, kinds] of [
        ['hanging', '/hang', []],
        ['healthy', '/healthy', ['rolled_back']],
      ] as const)
        await t.api('POST', '/api/v1/notifications/destinations', {
          name,
          type: 'webhook',
          url: `${receiver.url}${path}`,
          model,
          kinds,
        });
      const r = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
        model,
        candidateVersion: 'v2-int8',
        plan: fastPlan(3600),
      });
      await t.api('POST', `/api/v1/rollouts/${r.body.id}/start`);
      await waitFor('the hanging receiver to be called', () => hanging.length > 0, WAIT_MS);
      const started = Date.now();
      const rolledBack = await t.api('POST', `/api/v1/rollouts/${r.body.id}/rollback`, {
        reason: 'kill switch',
      });
      expect(rolledBack.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(10_000);
      await waitFor(
        'the healthy receiver to hear of it',
        () => receiver.at('/healthy').length === 1,
        WAIT_MS,
      );
      // ... while the first receiver still holds its first attempt.
      expect(hanging.map((res) => res.writableEnded)).toEqual([false]);

      const closing = Date.now();
      await t.close();
      closed = true;
      expect(Date.now() - closing).toBeLessThan(10_000);
    } finally {
      if (!closed) await t.close();
      await receiver.close();
    }
  }, 90_000);
});

describe('notifications with two control-plane replicas', () => {
  it('delivers each notification once', async () => {
    const receiver = await new Receiver().start();
    const one = await startTestControlPlane(env);
    const two = await startTestControlPlane(env, { keepDatabase: one });
    try {
      const { name: model } = await seedModel(one);
      await one.api('POST', '/api/v1/notifications/destinations', {
        name: 'shared',
        type: 'webhook',
        url: `${receiver.url}/shared`,
        model,
      });
      const r = await one.api<{ id: string }>('POST', '/api/v1/rollouts', {
        model,
        candidateVersion: 'v2-int8',
        plan: fastPlan(3600),
      });
      const id = r.body.id;
      await one.api('POST', `/api/v1/rollouts/${id}/start`);
      await two.api('POST', `/api/v1/rollouts/${id}/promote`);
      await one.api('POST', `/api/v1/rollouts/${id}/pause`);
      await two.api('POST', `/api/v1/rollouts/${id}/resume`);
      await one.api('POST', `/api/v1/rollouts/${id}/rollback`, { reason: 'done' });
      await waitFor('six notifications', () => receiver.received.length >= 6, WAIT_MS);
      // Both replicas keep passing over the same events for a while: still once each.
      await new Promise((res) => setTimeout(res, 1500));
      const events = receiver.received.map((x) => (x.json['event'] as { id: string }).id);
      expect(events).toHaveLength(6);
      expect(new Set(events).size).toBe(6);
      // In order per replica; two replicas may interleave, so order by event here.
      const byEvent = [...receiver.received].sort(
        (x, y) =>
          Number((x.json['event'] as { id: string }).id) - Number((y.json['event'] as { id: string }).id),
      );
      expect(byEvent.map((x) => x.json['kind'])).toEqual([
        'created',
        'started',
        'advanced',
        'paused',
        'resumed',
        'rolled_back',
      ]);
    } finally {
      await two.cp.close();
      await one.close();
      await receiver.close();
    }
  }, 60_000);
});

import type { ModelRouting, UpstreamTarget } from '@aviary/domain';
import { FlagPublishError } from './flags.errors';
import { UnleashFlagPublisher } from './unleash-flag-publisher';

/**
 * Just enough of unleash-server 8's admin API, with its quirks that matter here: PUT ignores sortOrder,
 * new strategies go last unless given a sortOrder, archived flags 404 on GET and 409 on create.
 */
class FakeUnleashAdmin {
  readonly calls: { method: string; path: string; headers: Record<string, string> }[] = [];
  features = new Map<
    string,
    { archived: boolean; enabled: boolean; strategies: Strategy[]; type: string; description: string }
  >();
  /** Per flag, newest first, as GET /api/admin/events/{flag} lists them. */
  events = new Map<string, { type: string; createdBy: string; environment: string | null }[]>();
  failNext: { status: number; body: string } | null = null;
  private nextId = 1;

  readonly fetch: typeof fetch = (input, init) => {
    const url = new URL(urlOf(input));
    const method = init?.method ?? 'GET';
    this.calls.push({
      method,
      path: url.pathname,
      headers: { ...(init?.headers as Record<string, string>) },
    });
    if (this.failNext) {
      const { status, body } = this.failNext;
      this.failNext = null;
      return Promise.resolve(new Response(body, { status }));
    }
    const body: unknown = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    return Promise.resolve(this.handle(method, url.pathname, body));
  };

  private handle(method: string, path: string, body: unknown): Response {
    const json = (status: number, value?: unknown) =>
      new Response(value === undefined ? null : JSON.stringify(value), { status });
    if (path === '/health') return json(200, { health: 'GOOD' });
    const events = /^\/api\/admin\/events\/([^/]+)$/.exec(path);
    if (events && method === 'GET')
      return json(200, { events: this.events.get(decodeURIComponent(events[1]!)) ?? [] });
    const revive = /^\/api\/admin\/archive\/revive\/([^/]+)$/.exec(path);
    if (revive && method === 'POST') {
      const feature = this.features.get(decodeURIComponent(revive[1]!));
      if (!feature?.archived) return json(404, { name: 'NotFoundError' });
      feature.archived = false;
      return json(200);
    }
    if (path === '/api/admin/projects/default/features' && method === 'POST') {
      const { name, type, description } = body as { name: string; type: string; description: string };
      if (this.features.has(name)) return json(409, { name: 'NameExistsError' });
      this.features.set(name, { archived: false, enabled: false, strategies: [], type, description });
      return json(201, { name });
    }
    const m =
      /^\/api\/admin\/projects\/default\/features\/([^/]+)(?:\/environments\/development(\/.*)?)?$/.exec(
        path,
      );
    const feature = m ? this.features.get(decodeURIComponent(m[1]!)) : undefined;
    if (!m || !feature || feature.archived)
      return json(404, { name: 'NotFoundError', message: `no ${path}` });
    const rest = m[2];
    if (rest === undefined && method === 'PATCH') {
      for (const op of body as { op: string; path: string; value: string }[]) {
        if (op.op === 'replace' && op.path === '/type') feature.type = op.value;
        if (op.op === 'replace' && op.path === '/description') feature.description = op.value;
      }
      return json(200);
    }
    if (rest === undefined && method === 'GET') {
      return json(200, {
        type: feature.type,
        description: feature.description,
        environments: [
          { name: 'development', enabled: feature.enabled, strategies: structuredClone(feature.strategies) },
          { name: 'production', enabled: false, strategies: [] },
        ],
      });
    }
    if (rest === '/on' && method === 'POST') {
      feature.enabled = true;
      return json(200);
    }
    if (rest === '/strategies' && method === 'POST') {
      const input = body as Omit<Strategy, 'id'>;
      const max = Math.max(-1, ...feature.strategies.map((s) => s.sortOrder));
      const strategy: Strategy = { ...input, id: `s${this.nextId++}`, sortOrder: input.sortOrder ?? max + 1 };
      feature.strategies.push(strategy);
      return json(200, strategy);
    }
    if (rest === '/strategies/set-sort-order' && method === 'POST') {
      for (const { id, sortOrder } of body as { id: string; sortOrder: number }[]) {
        const strategy = feature.strategies.find((s) => s.id === id);
        if (strategy) strategy.sortOrder = sortOrder;
      }
      return json(200);
    }
    const one = rest && /^\/strategies\/([^/]+)$/.exec(rest);
    const index = one ? feature.strategies.findIndex((s) => s.id === one[1]) : -1;
    if (one && index < 0) return json(404, { name: 'NotFoundError' });
    if (one && method === 'PUT') {
      const existing = feature.strategies[index]!;
      feature.strategies[index] = { ...(body as Strategy), id: existing.id, sortOrder: existing.sortOrder };
      return json(200, feature.strategies[index]);
    }
    if (one && method === 'DELETE') {
      feature.strategies.splice(index, 1);
      if (feature.strategies.length === 0) feature.enabled = false;
      return json(200);
    }
    return json(405);
  }

  /** Strategies in evaluation order, as (variant name, rollout). */
  served(flag: string): string[] {
    return [...(this.features.get(flag)?.strategies ?? [])]
      .sort((a, b) => a.sortOrder - b.sortOrder || a.id.localeCompare(b.id))
      .map((s) => `${s.variants[0]?.name ?? '-'}@${s.parameters.rollout}`);
  }

  methods(): string[] {
    return this.calls.map((c) => c.method);
  }
}

function urlOf(input: string | URL | Request): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

interface Strategy {
  id: string;
  name: string;
  sortOrder: number;
  parameters: Record<string, string>;
  variants: { name: string; payload: { type: string; value: string } }[];
  disabled?: boolean;
}

const target: UpstreamTarget = {
  versionId: 'v1',
  label: 'v1',
  baseUrl: 'http://vllm:8000/v1',
  upstreamModel: 'm',
  timeoutMs: 1000,
  apiKeyRef: null,
};
const routing = (revision: number, candidateWeight: number): ModelRouting => ({
  model: 'chat',
  baseline: target,
  candidate: { ...target, versionId: 'v2' },
  candidateWeight,
  shadow: null,
  rolloutId: 'ro',
  stickinessGroup: 'seed',
  revision,
});
const FLAG = 'aviary.model.chat';

describe(UnleashFlagPublisher.name, () => {
  let unleash: FakeUnleashAdmin;
  let publisher: UnleashFlagPublisher;

  beforeEach(() => {
    unleash = new FakeUnleashAdmin();
    publisher = new UnleashFlagPublisher({
      url: 'http://unleash:4242/',
      adminToken: 'tok',
      fetch: unleash.fetch,
    });
  });

  it('creates the flag, writes candidate then baseline, and switches the environment on', async () => {
    await publisher.publish(routing(1, 20));

    expect(unleash.served(FLAG)).toEqual(['candidate@20', 'baseline@100']);
    expect(unleash.features.get(FLAG)?.enabled).toBe(true);
    expect(unleash.methods()).toEqual(['GET', 'POST', 'GET', 'POST', 'POST', 'POST']);
    expect(unleash.calls.every((c) => c.headers.authorization === 'tok')).toBe(true);
  });

  it.each([
    {
      scenario: 'the same routing again',
      next: routing(1, 20),
      calls: ['GET'],
      served: ['candidate@20', 'baseline@100'],
    },
    {
      scenario: 'a higher weight',
      next: routing(2, 50),
      calls: ['GET', 'PUT', 'PUT'],
      served: ['candidate@50', 'baseline@100'],
    },
    {
      scenario: 'a rollback',
      next: routing(2, 0),
      calls: ['GET', 'DELETE', 'PUT'],
      served: ['baseline@100'],
    },
    {
      scenario: 'a stale revision',
      next: routing(0, 50),
      calls: ['GET'],
      served: ['candidate@20', 'baseline@100'],
    },
  ])('after 20%, publishing $scenario costs $calls', async ({ next, calls, served }) => {
    await publisher.publish(routing(1, 20));
    unleash.calls.length = 0;

    await publisher.publish(next);

    expect(unleash.methods()).toEqual(calls);
    expect(unleash.served(FLAG)).toEqual(served);
  });

  it('adds a candidate ahead of an existing baseline', async () => {
    await publisher.publish(routing(1, 0));
    await publisher.publish(routing(2, 5));

    expect(unleash.served(FLAG)).toEqual(['candidate@5', 'baseline@100']);
  });

  it('replaces hand-made strategies and fixes a candidate placed after the baseline', async () => {
    await publisher.publish(routing(1, 20));
    const feature = unleash.features.get(FLAG)!;
    feature.strategies.push({ id: 'zz-ui', name: 'default', sortOrder: -5, parameters: {}, variants: [] });
    const candidate = feature.strategies.find((s) => s.variants[0]?.name === 'candidate')!;
    candidate.sortOrder = 99;

    await publisher.publish(routing(2, 30));
    await publisher.publish(routing(2, 30));

    expect(unleash.served(FLAG)).toEqual(['candidate@30', 'baseline@100']);
  });

  it('publishes concurrent calls for one model one after another', async () => {
    await Promise.all([
      publisher.publish(routing(1, 20)),
      publisher.publish(routing(1, 20)),
      publisher.publish(routing(2, 50)),
    ]);

    expect(unleash.served(FLAG)).toEqual(['candidate@50', 'baseline@100']);
  });

  it('revives an archived flag', async () => {
    await publisher.publish(routing(1, 20));
    unleash.features.get(FLAG)!.archived = true;

    await publisher.publish(routing(2, 50));

    expect(unleash.features.get(FLAG)?.archived).toBe(false);
    expect(unleash.served(FLAG)).toEqual(['candidate@50', 'baseline@100']);
  });

  it('creates a permission flag that names the model and links the status page', async () => {
    const linked = new UnleashFlagPublisher({
      url: 'http://unleash:4242',
      statusUrl: 'https://aviary.example.com/',
      fetch: unleash.fetch,
    });
    await linked.publish(routing(1, 20));

    expect(unleash.features.get(FLAG)).toMatchObject({
      type: 'permission',
      description: expect.stringMatching(
        /^Aviary traffic split for model "chat".*Status: https:\/\/aviary\.example\.com\/status#model-chat$/,
      ) as string,
    });
  });

  it('turns a release flag of an earlier version into a permission flag once', async () => {
    await publisher.publish(routing(1, 20));
    Object.assign(unleash.features.get(FLAG)!, { type: 'release', description: 'old words' });
    unleash.calls.length = 0;

    await publisher.publish(routing(2, 20));
    await publisher.publish(routing(2, 20));

    expect(unleash.features.get(FLAG)).toMatchObject({ type: 'permission' });
    expect(unleash.methods().filter((m) => m === 'PATCH')).toHaveLength(1);
  });

  describe('reading a flag back', () => {
    beforeEach(async () => {
      await publisher.publish(routing(1, 20));
    });
    const events = (type: string, createdBy: string, environment: string | null = 'development') =>
      unleash.events.set(
        FLAG,
        [
          { type: 'feature-strategy-add', createdBy: 'aviary', environment },
          { type, createdBy, environment },
        ].reverse(),
      );

    it('finds it in sync after a publish', async () => {
      await expect(publisher.inspect(routing(1, 20))).resolves.toMatchObject({ drift: null });
    });

    it.each<
      [string, (f: { enabled: boolean; archived: boolean; strategies: Strategy[] }) => void, string, string]
    >([
      ['switched off', (f) => (f.enabled = false), 'disabled', 'feature-environment-disabled'],
      ['archived', (f) => (f.archived = true), 'archived', 'feature-archived'],
      [
        'its candidate strategy disabled',
        (f) => (f.strategies.find((s) => s.variants[0]?.name === 'candidate')!.disabled = true),
        'candidate-disabled',
        'feature-strategy-update',
      ],
      [
        'its candidate strategy removed',
        (f) => (f.strategies = f.strategies.filter((s) => s.variants[0]?.name !== 'candidate')),
        'candidate-disabled',
        'feature-strategy-remove',
      ],
      [
        'the candidate weight edited',
        (f) => (f.strategies.find((s) => s.variants[0]?.name === 'candidate')!.parameters.rollout = '90'),
        'edited',
        'feature-strategy-update',
      ],
    ])('finds a flag %s, and who did it', async (_name, change, drift, eventType) => {
      change(unleash.features.get(FLAG)!);
      events(eventType, 'alice@example.com');

      await expect(publisher.inspect(routing(1, 20))).resolves.toMatchObject({
        drift,
        changedBy: 'alice@example.com',
      });
    });

    it('does not call a flag changed when it holds a newer split than the one compared with', async () => {
      await publisher.publish(routing(2, 50));

      await expect(publisher.inspect(routing(1, 20))).resolves.toMatchObject({ drift: null });
    });

    it('finds a deleted flag missing', async () => {
      unleash.features.delete(FLAG);

      await expect(publisher.inspect(routing(1, 20))).resolves.toMatchObject({
        drift: 'missing',
        changedBy: null,
      });
    });
  });

  it('reports status and body of a refused call', async () => {
    unleash.failNext = { status: 503, body: `{"message":"db down"}${'x'.repeat(500)}` };

    const error = await publisher.publish(routing(1, 20)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(FlagPublishError);
    expect(error).toMatchObject({ status: 503, method: 'GET' });
    expect((error as FlagPublishError).message).toMatch(
      /^unleash: GET http:\/\/unleash:4242\/api\/admin\/projects\/default\/features\/aviary\.model\.chat answered 503: \{"message":"db down"\}x+…$/,
    );
    expect((error as FlagPublishError).bodyExcerpt).toHaveLength(301);
  });

  it('gives up on a silent server after timeoutMs', async () => {
    const hanging: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error)),
      );
    const slow = new UnleashFlagPublisher({ url: 'http://unleash:4242', timeoutMs: 50, fetch: hanging });

    await expect(slow.check()).rejects.toThrow(
      'unleash: GET http://unleash:4242/health timed out after 50 ms',
    );
  });
});

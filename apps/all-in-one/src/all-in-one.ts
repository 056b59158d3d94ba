import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InProcessEventBus } from '@aviary/kafka';
import { type PrismaClient } from '@aviary/persistence';
import { type RunningAnalyzer, startAnalyzer } from '@aviary/analyzer';
import {
  type ControlPlaneConfig,
  ModelsService,
  PRISMA,
  RouterKeysService,
  type RunningControlPlane,
  startControlPlane,
  TokensService,
} from '@aviary/control-plane';
import { type Log, type RouterConfig, type RunningRouter, startRouter } from '@aviary/router';
import { BEHAVIOURS, startDemoLlm, type DemoLlm } from '@aviary/demo-llm';

export const DEMO_MODEL = 'demo-chat';
/** Who the audit log says registered the demo model and its versions. */
const DEMO_ACTOR = { name: 'aviary-demo-setup', automatic: true } as const;

export interface AllInOneOptions {
  readonly controlPlane: ControlPlaneConfig;
  /** Router settings; the flag source and its token are filled in to point at this control plane. */
  readonly router: RouterConfig;
  /** Start two demo model servers and register a demo model that uses them. */
  readonly demo: { readonly enabled: boolean; readonly baselinePort: number; readonly candidatePort: number };
  /** Width of the analyzer's chart buckets (short: demo rollouts last minutes). */
  readonly analyzerBucketSeconds?: number;
  readonly log: Log;
}

export interface RunningAllInOne {
  readonly controlPlane: RunningControlPlane;
  readonly router: RunningRouter;
  readonly bus: InProcessEventBus;
  readonly analyzer: RunningAnalyzer;
  readonly demo: { readonly baseline: DemoLlm; readonly candidate: DemoLlm; readonly judge: DemoLlm } | null;
  /**
   * The status page with a viewer sign-in token in the address: the same link at every start (the
   * token is kept in <data dir>/status-link-token) until the token is revoked; then a new one.
   */
  readonly statusLink: string;
  /** With router keys required: a key for the demo model (renewed at every start); else null. */
  readonly demoKey: string | null;
  close(): Promise<void>;
}

/**
 * Aviary on one machine, in one process: control plane (embedded PostgreSQL unless DATABASE_URL is
 * set; built-in flags unless UNLEASH_URL is set), router reading the split from it (or from Unleash),
 * the in-process event stream, and two demo model servers. Production runs the same parts as separate processes (see docs/design.md).
 */
export async function startAllInOne(o: AllInOneOptions): Promise<RunningAllInOne> {
  const closers: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    const cp = await startControlPlane(o.controlPlane);
    closers.push(() => cp.close());
    let demo: RunningAllInOne['demo'] = null;
    if (o.demo.enabled) {
      const baseline = await startDemoLlm({
        name: 'baseline',
        port: o.demo.baselinePort,
        behaviour: BEHAVIOURS.typical,
        seed: 1,
      });
      closers.push(() => baseline.close());
      const candidate = await startDemoLlm({
        name: 'candidate',
        port: o.demo.candidatePort,
        behaviour: BEHAVIOURS.typical,
        seed: 2,
      });
      closers.push(() => candidate.close());
      // The LLM judge for shadow pairs: a third demo server (it answers Aviary's judge prompt).
      const judge = await startDemoLlm({ name: 'judge', behaviour: BEHAVIOURS.fine, seed: 3 });
      closers.push(() => judge.close());
      demo = { baseline, candidate, judge };
      await registerDemoModel(cp, baseline, candidate);
    }
    const bus = new InProcessEventBus({ maxBuffered: o.router.AVIARY_EVENTS_BUFFER });
    closers.push(() => bus.close());
    // The analyzer shares the control plane's database handle (the embedded database takes one connection).
    const analyzer = await startAnalyzer(
      {
        bucketSeconds: o.analyzerBucketSeconds ?? 10,
        dedupHours: 72,
        pairSamplesPerRollout: 20,
        http: null,
        judge: demo
          ? {
              url: demo.judge.url,
              model: 'judge',
              apiKey: null,
              sampleRate: 0.5,
              ratePerSecond: 20,
              maxPerRollout: 2000,
              timeoutMs: 10_000,
              queueSize: 500,
            }
          : null,
      },
      {
        prisma: cp.app.get<PrismaClient>(PRISMA),
        subscriber: bus,
        log: (level, m) => o.log(level, `analyzer: ${m}`),
      },
    );
    closers.push(() => analyzer.close());
    // With UNLEASH_URL the router reads the split from Unleash, as production routers do (with
    // AVIARY_FLAGS_TOKEN as its client token); otherwise from this control plane's built-in source.
    // Router keys always come from this control plane.
    const token = await cp.app.get(TokensService).rotate('embedded-router', 'viewer');
    const unleash = o.controlPlane.unleash;
    const flags = unleash
      ? { AVIARY_FLAGS_URL: `${unleash.url}/api`, AVIARY_FLAGS_TOKEN: o.router.AVIARY_FLAGS_TOKEN }
      : { AVIARY_FLAGS_URL: `${cp.url}/api`, AVIARY_FLAGS_TOKEN: token };
    const demoKey =
      o.router.AVIARY_ROUTER_AUTH === 'keys'
        ? await cp.app.get(RouterKeysService).rotate({ name: 'demo-traffic' })
        : null;
    const router = await startRouter(
      { ...o.router, ...flags, AVIARY_CONTROL_PLANE_URL: cp.url, AVIARY_CONTROL_PLANE_TOKEN: token },
      { events: bus, log: o.log },
    );
    closers.push(() => router.close());
    const statusToken = await stableStatusToken(
      cp.app.get(TokensService),
      join(resolve(o.controlPlane.database.dataDir), STATUS_LINK_FILE),
    );
    const statusLink = `${cp.url}/status?token=${encodeURIComponent(statusToken)}`;
    return { controlPlane: cp, router, bus, analyzer, demo, statusLink, demoKey, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The viewer token behind the printed status-page link, and the file that keeps it across restarts. */
export const STATUS_LINK_TOKEN_NAME = 'status-page-link';
export const STATUS_LINK_FILE = 'status-link-token';

/**
 * The status-page link's token: the kept one while it is still valid, so a link shared yesterday
 * still opens the page today; a new one the first time, or after someone revoked it
 * (`DELETE /api/v1/tokens/<id>` of `status-page-link`), which is how a shared link is ended.
 */
async function stableStatusToken(tokens: TokensService, file: string): Promise<string> {
  const kept = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (kept) {
    const principal = await tokens.authenticate(kept);
    if (principal?.name === STATUS_LINK_TOKEN_NAME && principal.role === 'viewer') return kept;
  }
  const token = await tokens.rotate(STATUS_LINK_TOKEN_NAME, 'viewer');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}

/** Idempotent: a second start finds the model and its versions. */
async function registerDemoModel(
  cp: RunningControlPlane,
  baseline: DemoLlm,
  candidate: DemoLlm,
): Promise<void> {
  const models = cp.app.get(ModelsService);
  const existing = await models.list();
  if (!existing.some((m) => m.name === DEMO_MODEL)) {
    await models.create(
      {
        name: DEMO_MODEL,
        description: 'Demo model served by two local demo model servers',
      },
      DEMO_ACTOR,
    );
  }
  const model = await models.get(DEMO_MODEL);
  const labels = new Set(model.versions.map((v) => v.label));
  const version = (
    label: string,
    server: DemoLlm,
    upstreamModel: string,
    note: string,
    prices: { inputPerMillionTokens: number; outputPerMillionTokens: number },
  ) =>
    labels.has(label)
      ? Promise.resolve()
      : models
          .createVersion(
            DEMO_MODEL,
            {
              label,
              upstreamBaseUrl: server.url,
              upstreamModel,
              timeoutMs: 30_000,
              metadata: { demo: true, note },
              // Example prices, so the status page shows what an answer costs (README "Cost").
              prices: { currency: 'USD', ...prices },
            },
            DEMO_ACTOR,
          )
          .then(() => undefined);
  await version('v1-fp16', baseline, 'demo-8b-fp16', 'the version serving users today', {
    inputPerMillionTokens: 0.2,
    outputPerMillionTokens: 0.8,
  });
  await version('v2-int8', candidate, 'demo-8b-int8', 'a quantized build: cheaper, maybe worse', {
    inputPerMillionTokens: 0.1,
    outputPerMillionTokens: 0.4,
  });
}

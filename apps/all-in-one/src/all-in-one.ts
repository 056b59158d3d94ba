import { InProcessEventBus } from '@aviary/kafka';
import { type PrismaClient } from '@aviary/persistence';
import { type RunningAnalyzer, startAnalyzer } from '../../analyzer/src/analyzer';
import { PRISMA } from '../../control-plane/src/database/database.tokens';
import { BEHAVIOURS, startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import { TokensService } from '../../control-plane/src/auth/tokens.service';
import { type ControlPlaneConfig } from '../../control-plane/src/config/control-plane.config';
import { type RunningControlPlane, startControlPlane } from '../../control-plane/src/control-plane';
import { ModelsService } from '../../control-plane/src/models/models.service';
import { RouterKeysService } from '../../control-plane/src/router-keys/router-keys.service';
import { type RouterConfig } from '../../router/src/config/router.config';
import { type Log, type RunningRouter, startRouter } from '../../router/src/router';

export const DEMO_MODEL = 'demo-chat';

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
  /** The status page with a viewer sign-in token in the address (renewed at every start). */
  readonly statusLink: string;
  /** With router keys required: a key for the demo model (renewed at every start); else null. */
  readonly demoKey: string | null;
  close(): Promise<void>;
}

/**
 * Aviary on one machine, in one process: control plane (embedded PostgreSQL unless DATABASE_URL is
 * set, built-in flags), router reading the split from it, the in-process event stream, and two demo
 * model servers. Production runs the same parts as separate processes (see docs/design.md).
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
    const token = await cp.app.get(TokensService).rotate('embedded-router', 'viewer');
    const demoKey =
      o.router.AVIARY_ROUTER_AUTH === 'keys'
        ? await cp.app.get(RouterKeysService).rotate({ name: 'demo-traffic' })
        : null;
    const router = await startRouter(
      {
        ...o.router,
        AVIARY_FLAGS_URL: `${cp.url}/api`,
        AVIARY_FLAGS_TOKEN: token,
        AVIARY_CONTROL_PLANE_URL: cp.url,
        AVIARY_CONTROL_PLANE_TOKEN: token,
      },
      { events: bus, log: o.log },
    );
    closers.push(() => router.close());
    // A viewer token for the status page link printed at start (a new one each start).
    const statusToken = await cp.app.get(TokensService).rotate('status-page-link', 'viewer');
    const statusLink = `${cp.url}/status?token=${encodeURIComponent(statusToken)}`;
    return { controlPlane: cp, router, bus, analyzer, demo, statusLink, demoKey, close };
  } catch (err) {
    await close();
    throw err;
  }
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
    await models.create({
      name: DEMO_MODEL,
      description: 'Demo model served by two local demo model servers',
    });
  }
  const model = await models.get(DEMO_MODEL);
  const labels = new Set(model.versions.map((v) => v.label));
  const version = (label: string, server: DemoLlm, upstreamModel: string, note: string) =>
    labels.has(label)
      ? Promise.resolve()
      : models
          .createVersion(DEMO_MODEL, {
            label,
            upstreamBaseUrl: server.url,
            upstreamModel,
            timeoutMs: 30_000,
            metadata: { demo: true, note },
          })
          .then(() => undefined);
  await version('v1-fp16', baseline, 'demo-8b-fp16', 'the version serving users today');
  await version('v2-int8', candidate, 'demo-8b-int8', 'a quantized build: cheaper, maybe worse');
}

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { TOPICS, type FeedbackEvent, type OutcomeEvent, type PairEvent } from '@aviary/contracts';
import { startDemoLlm, type DemoLlm } from '@aviary/demo-llm';
import type { EventPublisher, EventSubscriber } from '@aviary/domain';
import { InProcessEventBus } from '@aviary/kafka';
import { waitFor } from '@aviary/testing';
import { startTestControlPlane, type TestControlPlane } from '@aviary/control-plane/testing';
import { loadRouterConfig } from '../src/config/router.config';
import { startRouter, type RunningRouter } from '../src/router';

export interface Stack {
  readonly cp: TestControlPlane;
  readonly router: RunningRouter;
  readonly baseline: DemoLlm;
  readonly candidate: DemoLlm;
  /** A router API key for this stack's model (the openai client sends it). */
  readonly key: string;
  /** `authorization` with the key, for requests made without the SDK. */
  readonly auth: Record<string, string>;
  readonly openai: OpenAI;
  readonly model: string;
  readonly outcomes: OutcomeEvent[];
  readonly pairs: PairEvent[];
  readonly feedback: FeedbackEvent[];
  /** What the router logged (any level). */
  readonly logs: Array<{ level: string; message: string; fields?: Readonly<Record<string, unknown>> }>;
  /** POSTs JSON to the router with the stack's key. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  /** Creates a router key (with a scope or limits); resolves once the router accepts it. */
  createKey(name: string, extra?: Record<string, unknown>): Promise<{ id: string; key: string }>;
  /** Revokes a key; resolves once the router refuses it. */
  revokeKey(id: string, key: string): Promise<void>;
  /** Creates and starts a rollout with the given steps; returns its id once the router sees it. */
  rollout(steps: unknown[], extra?: Record<string, unknown>): Promise<string>;
  promote(id: string): Promise<void>;
  rollback(id: string): Promise<void>;
  close(): Promise<void>;
}

export const SECRET = 'router-test-secret-0123456789abcdef';

/**
 * A control plane (real PostgreSQL, built-in flags), two demo model servers, and a router reading
 * the split with unleash-client, its evidence captured from the in-process bus.
 */
export async function startStack(
  routerEnv: Record<string, string> = {},
  opts: {
    baselineTimeoutMs?: number;
    candidateTimeoutMs?: number;
    events?: EventPublisher;
    subscriber?: EventSubscriber;
    /** Control-plane settings over the stack's (manual analysis). */
    controlPlaneEnv?: Record<string, string>;
    /** Extra fields for the versions' registration (endpoints, maxResponseBytes, totalTimeoutMs…). */
    baselineVersion?: Record<string, unknown>;
    candidateVersion?: Record<string, unknown>;
    /** The candidate version calls the baseline's server and model (a prompt-only change). */
    sameUpstream?: boolean;
    /** The candidate version calls this server (e.g. a demo model server in its own process). */
    candidateUrl?: string;
    /** Publish to this unleash-server (control plane) and route from it (router), not the built-in source. */
    unleashUrl?: string;
    /** The hosts the baseline's credential is bound to (default: 127.0.0.1, any port). */
    credentialHosts?: (baseline: DemoLlm) => string[];
  } = {},
): Promise<Stack> {
  const cp = await startTestControlPlane({
    AVIARY_ANALYSIS: 'manual',
    ...(opts.unleashUrl ? { UNLEASH_URL: opts.unleashUrl } : {}),
    ...opts.controlPlaneEnv,
  });
  const baseline = await startDemoLlm({ name: 'baseline', seed: 1, apiKey: 'baseline-key' });
  const candidate = await startDemoLlm({ name: 'candidate', seed: 2 });
  // The baseline's key is a declared credential: the router reads it from AVIARY_UPSTREAM_KEY_<NAME>.
  process.env['AVIARY_UPSTREAM_KEY_ROUTER_TEST_BASELINE'] = 'baseline-key';
  await cp.api('POST', '/api/v1/credentials', {
    name: 'router-test-baseline',
    allowedHosts: opts.credentialHosts?.(baseline) ?? ['127.0.0.1'],
  });
  const model = `chat-${Math.random().toString(36).slice(2, 8)}`;
  await cp.api('POST', '/api/v1/models', { name: model });
  await cp.api('POST', `/api/v1/models/${model}/versions`, {
    label: 'v1',
    upstreamBaseUrl: baseline.url,
    upstreamModel: 'base-8b',
    apiKeyRef: 'router-test-baseline',
    timeoutMs: opts.baselineTimeoutMs ?? 5000,
    ...opts.baselineVersion,
  });
  await cp.api('POST', `/api/v1/models/${model}/versions`, {
    label: 'v2',
    ...(opts.sameUpstream
      ? { upstreamBaseUrl: baseline.url, upstreamModel: 'base-8b', apiKeyRef: 'router-test-baseline' }
      : { upstreamBaseUrl: opts.candidateUrl ?? candidate.url, upstreamModel: 'cand-8b' }),
    timeoutMs: opts.candidateTimeoutMs ?? 5000,
    ...opts.candidateVersion,
  });
  const token = (
    await cp.api<{ token: string }>('POST', '/api/v1/tokens', { name: `router-${model}`, role: 'viewer' })
  ).body.token;

  const bus = opts.events && opts.subscriber ? null : new InProcessEventBus({ maxBuffered: 200_000 });
  const events: EventPublisher = opts.events ?? bus!;
  const subscriber: EventSubscriber = opts.subscriber ?? bus!;
  const outcomes: OutcomeEvent[] = [];
  const pairs: PairEvent[] = [];
  const feedback: FeedbackEvent[] = [];
  // Only this stack's model: a real Kafka topic also holds other runs' events.
  await subscriber.subscribe([TOPICS.outcomes, TOPICS.pairs, TOPICS.feedback], (topic, _key, value) => {
    if ((value as { model?: unknown }).model !== model) return Promise.resolve();
    if (topic === TOPICS.outcomes) outcomes.push(value as OutcomeEvent);
    if (topic === TOPICS.pairs) pairs.push(value as PairEvent);
    if (topic === TOPICS.feedback) feedback.push(value as FeedbackEvent);
    return Promise.resolve();
  });
  const backupDir = mkdtempSync(join(tmpdir(), 'aviary-router-test-'));
  const logs: Stack['logs'] = [];
  const router = await startRouter(
    loadRouterConfig({
      AVIARY_ROUTER_PORT: '0',
      AVIARY_FLAGS_URL: `${cp.url}/api`,
      AVIARY_FLAGS_TOKEN: token,
      AVIARY_FLAGS_REFRESH_MS: '100',
      AVIARY_FLAGS_BACKUP_DIR: backupDir,
      AVIARY_ROUTER_SECRET: SECRET,
      AVIARY_KEYS_REFRESH_MS: '100',
      AVIARY_LOG_LEVEL: 'debug',
      AVIARY_ACCESS_LOG: 'off',
      ...(opts.unleashUrl
        ? {
            AVIARY_FLAGS_URL: `${opts.unleashUrl}/api`,
            AVIARY_CONTROL_PLANE_URL: cp.url,
            AVIARY_CONTROL_PLANE_TOKEN: token,
          }
        : {}),
      ...routerEnv,
    }),
    {
      events,
      log: (level, message, fields) => {
        logs.push({ level, message, ...(fields ? { fields } : {}) });
        if (level === 'error') process.stderr.write(`router: ${message}\n`);
      },
    },
  );
  await waitFor('the router to know the model', () => router.flags.resolve(model, 'probe') !== null, 10_000);
  const accepted = async (key: string) =>
    (await fetch(`${router.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status === 200;
  const createKey = async (name: string, extra: Record<string, unknown> = {}) => {
    const r = await cp.api<{ id: string; key: string }>('POST', '/api/v1/router-keys', { name, ...extra });
    if (r.status !== 201) throw new Error(`router key: ${r.status} ${JSON.stringify(r.body)}`);
    await waitFor('the router to accept the new key', () => accepted(r.body.key), 10_000);
    return { id: r.body.id, key: r.body.key };
  };
  const { key } = await createKey(`test-${model}`);
  const auth = { authorization: `Bearer ${key}` };
  const openai = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: key, maxRetries: 0 });

  const seenRevision = () => router.flags.resolve(model, 'probe')?.revision ?? 0;
  const afterChange = async (fn: () => Promise<unknown>) => {
    const before = seenRevision();
    await fn();
    await waitFor('the router to see the new split', () => seenRevision() > before, 10_000);
  };
  return {
    cp,
    router,
    baseline,
    candidate,
    key,
    auth,
    openai,
    model,
    outcomes,
    pairs,
    feedback,
    logs,
    post: (path, body, headers = {}) =>
      fetch(`${router.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    createKey,
    async revokeKey(id, revoked) {
      await cp.api('DELETE', `/api/v1/router-keys/${id}`);
      await waitFor('the router to refuse the revoked key', async () => !(await accepted(revoked)), 10_000);
    },
    async rollout(steps, extra = {}) {
      const r = await cp.api<{ id: string }>('POST', '/api/v1/rollouts', {
        model,
        candidateVersion: 'v2',
        // No holdback: at 100 % a default plan keeps 5 % of users (by a bucket salted per rollout)
        // on the baseline, and these tests send one user's request and expect the candidate.
        plan: { steps, holdbackPercent: 0 },
        // Tests roll the same candidate out again after rolling it back.
        allowRolledBackCandidate: true,
        reason: 'test',
        ...extra,
      });
      if (r.status !== 201) throw new Error(`rollout: ${r.status} ${JSON.stringify(r.body)}`);
      await afterChange(() => cp.api('POST', `/api/v1/rollouts/${r.body.id}/start`));
      return r.body.id;
    },
    promote: (id) => afterChange(() => cp.api('POST', `/api/v1/rollouts/${id}/promote`)),
    rollback: (id) =>
      afterChange(() => cp.api('POST', `/api/v1/rollouts/${id}/rollback`, { reason: 'test' })),
    async close() {
      await router.close();
      await subscriber.close();
      if ((events as unknown) !== subscriber) await events.close(2000);
      await baseline.close();
      await candidate.close();
      await cp.close();
      rmSync(backupDir, { recursive: true, force: true });
    },
  };
}

export const step = {
  weight: (weight: number, cohort?: Record<string, unknown>) => ({
    type: 'setWeight',
    weight,
    minDurationSeconds: 3600,
    ...(cohort ? { cohort } : {}),
    // A cohort-only step must end itself: it gathers no guardrail evidence.
    ...(weight === 0 ? { maxDurationSeconds: 7200, onDeadline: 'rollback' } : {}),
  }),
  shadow: (sampleRate: number) => ({ type: 'shadow', sampleRate, minDurationSeconds: 3600 }),
};
export const rest = [step.weight(100)];

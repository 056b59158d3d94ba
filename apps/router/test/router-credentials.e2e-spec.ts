import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { flagNameForModel } from '@aviary/domain';
import { testUnleashUrl, unleashAdmin, waitFor } from '@aviary/testing';
import { startStack, type Stack } from './stack';

// Issue 9: whoever can edit a flag in Unleash (outside Aviary's auth) can point a version at their
// own host. The router must not hand that host the version's upstream key: it sends a credential
// only to the hosts the control plane's credentials registry binds it to.

const ENV = 'development';
const unleash = () => testUnleashUrl();

const admin = unleashAdmin;

interface AdminStrategy {
  id: string;
  variants: { name: string; payload: { type: string; value: string } }[];
}

/** An OpenAI-compatible upstream that records the headers of every request it gets. */
async function startEcho(): Promise<{ url: string; seen: IncomingHttpHeaders[]; server: Server }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id: 'chatcmpl-echo',
          object: 'chat.completion',
          created: 0,
          model: 'echo',
          choices: [{ index: 0, message: { role: 'assistant', content: 'got it' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
        }),
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, seen, server };
}

describe('a flag edited in Unleash to point a version at another host', () => {
  let s: Stack;
  let hostB: Awaited<ReturnType<typeof startEcho>>;

  beforeAll(async () => {
    hostB = await startEcho();
    s = await startStack(
      {},
      {
        unleashUrl: unleash(),
        // The edit must stay in Unleash for the test: no drift repair by the control plane.
        controlPlaneEnv: { AVIARY_FLAG_DRIFT_CHECK_MS: '0' },
        // Host A is the baseline's server (host and port): host B is another port on the same machine.
        credentialHosts: (baseline) => [new URL(baseline.url).host],
      },
    );
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await new Promise<void>((r) => (hostB ? hostB.server.close(() => r()) : r()));
  });

  it('never sends the credential to host B: the request fails with an OpenAI-shaped 502 upstream_not_allowed', async () => {
    // Host A serves with the credential (the demo server refuses calls without its key).
    const ok = await s.openai.chat.completions.create({
      model: s.model,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(ok.choices[0]?.message.content).toBeTruthy();

    // An Unleash user edits the baseline variant's payload to point at host B.
    const featurePath = `/api/admin/projects/default/features/${flagNameForModel(s.model)}`;
    const feature = (await admin('GET', featurePath)) as {
      environments: { name: string; strategies: AdminStrategy[] }[];
    };
    const strategy = feature.environments
      .find((e) => e.name === ENV)
      ?.strategies.find((st) => st.variants[0]?.name === 'baseline');
    if (!strategy) throw new Error('no baseline strategy');
    const variant = strategy.variants[0]!;
    const payload = JSON.parse(variant.payload.value) as { target: { baseUrl: string } };
    payload.target.baseUrl = hostB.url;
    await admin('PUT', `${featurePath}/environments/${ENV}/strategies/${strategy.id}`, {
      ...strategy,
      variants: [{ ...variant, payload: { type: 'json', value: JSON.stringify(payload) } }],
    });
    await waitFor(
      'the router to route to host B',
      () => s.router.flags.resolve(s.model, 'anyone')?.target.baseUrl === hostB.url,
      15_000,
    );

    const err = await s.openai.chat.completions
      .create({ model: s.model, messages: [{ role: 'user', content: 'hi' }] })
      .then(() => null)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiError = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(502);
    expect(apiError.code).toBe('upstream_not_allowed');
    expect(apiError.message).toContain('router-test-baseline');
    expect(apiError.message).toContain(new URL(hostB.url).host);
    expect(apiError.message).not.toContain('baseline-key');
    // Host B never received the key (nor any request).
    expect(hostB.seen.filter((h) => h.authorization !== undefined)).toEqual([]);
    expect(hostB.seen).toHaveLength(0);

    const readyz = (await (await fetch(`${s.router.url}/readyz`)).json()) as {
      status: string;
      checks: {
        credentials: { status: string; degraded: string[]; refused: { credential: string; host: string }[] };
      };
    };
    expect(readyz.status).toBe('degraded');
    expect(readyz.checks.credentials).toMatchObject({
      status: 'degraded',
      degraded: [s.model],
      refused: [{ credential: 'router-test-baseline', host: new URL(hostB.url).host }],
    });
    const metrics = await (await fetch(`${s.router.url}/metrics`)).text();
    expect(metrics).toContain(
      `aviary_router_upstream_credential_refusals_total{model="${s.model}",credential="router-test-baseline",reason="host"} 1`,
    );
    expect(s.logs.some((l) => l.level === 'warn' && l.message.includes('upstream_not_allowed'))).toBe(true);
  }, 60_000);
});

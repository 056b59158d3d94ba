import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { LATENCY_BUCKETS_MS, latencyBucketIndex } from '@aviary/domain';
import { emptyArmCounters, emptyPairCounters, EvidenceStore, type PrismaClient } from '@aviary/persistence';
import { launchChromium } from '@aviary/testing';
import { PRISMA } from '../src/database/database.tokens';
import { fastPlan, seedModel, startTestControlPlane, waitFor, type TestControlPlane } from './harness';

// The PM status page in a real headless Chromium against a real control plane and PostgreSQL. The
// evidence is written through the analyzer's store, so the page shows what the analysis computes.

interface Rollout {
  id: string;
  phase: string;
}

let t: TestControlPlane;
let browser: Browser;
let prisma: PrismaClient;
let store: EvidenceStore;
let viewerToken: string;
let seeded: Awaited<ReturnType<typeof seedModel>>;
let rollout: Rollout;

beforeAll(async () => {
  t = await startTestControlPlane({ AVIARY_STATUS_REFRESH_MS: '250', AVIARY_TICK_INTERVAL_MS: '200' });
  prisma = t.cp.app.get<PrismaClient>(PRISMA);
  store = new EvidenceStore(prisma);
  browser = await launchChromium();
  const token = await t.api<{ token: string }>('POST', '/api/v1/tokens', {
    name: 'pm-dashboard',
    role: 'viewer',
  });
  expect(token.status).toBe(201);
  viewerToken = token.body.token;
  seeded = await seedModel(t, 'support-bot');
  const created = await t.api<Rollout>('POST', '/api/v1/rollouts', {
    model: seeded.name,
    candidateVersion: 'v2-int8',
    plan: fastPlan(3600),
  });
  expect(created.status).toBe(201);
  rollout = created.body;
  expect((await t.api('POST', `/api/v1/rollouts/${rollout.id}/start`)).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function stepRevision(): Promise<number> {
  const r = await prisma.rollout.findUniqueOrThrow({
    where: { id: rollout.id },
    select: { stepRevision: true },
  });
  if (r.stepRevision === null) throw new Error('rollout has no step revision');
  return r.stepRevision;
}

/** One arm's requests for the current step, split over the last two minutes (two chart points). */
async function addArm(
  versionId: string,
  role: string,
  requests: number,
  refusals: number,
  latencyMs: number,
) {
  const revision = await stepRevision();
  const minute = Math.floor(Date.now() / 60_000) * 60_000;
  for (const [i, bucket] of [minute - 60_000, minute].entries()) {
    const counters = emptyArmCounters();
    counters.requests = requests / 2;
    counters.refusals = i === 0 ? Math.floor(refusals / 2) : Math.ceil(refusals / 2);
    counters.tokensN = requests / 2;
    counters.tokensSum = 80 * (requests / 2);
    counters.tokensSumSq = 6400 * (requests / 2);
    counters.latencyCounts = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    counters.latencyCounts[latencyBucketIndex(latencyMs)] = requests / 2;
    await store.applyOnce([{ kind: 'outcome', requestId: randomUUID(), role }], () => ({
      arms: [
        { ...counters, rolloutId: rollout.id, revision, versionId, role, bucketStart: new Date(bucket) },
      ],
      pairs: [],
      samples: [],
    }));
  }
}

async function addShadowPairs() {
  const revision = await stepRevision();
  await store.applyOnce([{ kind: 'pair', requestId: randomUUID(), role: '' }], () => ({
    arms: [],
    pairs: [
      {
        rolloutId: rollout.id,
        revision,
        bucketStart: new Date(Math.floor(Date.now() / 60_000) * 60_000),
        ...emptyPairCounters(),
        pairs: 50,
        comparable: 50,
        exactMatches: 20,
        similaritySum: 40,
        similaritySumSq: 33,
        lengthRatioSum: 48,
        shadowOnlyRefusals: 2,
        baselineOnlyRefusals: 1,
      },
    ],
    samples: [
      {
        rolloutId: rollout.id,
        requestId: randomUUID(),
        at: new Date(),
        prompt: [{ role: 'user', content: 'How do I reset my router password?' }],
        baselineOutput: 'Hold the reset button for ten seconds, then sign in with the default password.',
        shadowOutput: 'Press and hold reset for 10 seconds; the default password is on the label.',
        similarity: 0.42,
        baselineRefusal: false,
        shadowRefusal: false,
      },
    ],
  }));
}

async function signedInContext(viewport?: { width: number; height: number }): Promise<BrowserContext> {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  await page.goto(`${t.url}/status?token=${encodeURIComponent(viewerToken)}`);
  await page.close();
  return context;
}

const text = (page: Page, selector: string) => page.locator(selector).first().innerText();

/** The few browser globals the page functions touch (the test project has no DOM types). */
interface PageWindow {
  document: { querySelector(selector: string): unknown; documentElement: { scrollWidth: number } };
  innerWidth: number;
  Chart: { getChart(canvas: unknown): { data: { datasets: { label: string; data: { y: number }[] }[] } } };
  aviaryStatus: { renders: number };
  notReloaded?: boolean;
}

describe('status page: gates and deadlines', () => {
  it('says a rollout waits for an approval, and when its progress deadline passes', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: {
        steps: [
          { type: 'pause', maxDurationSeconds: 1, onDeadline: 'hold' },
          { type: 'setWeight', weight: 100, minDurationSeconds: 3600 },
        ],
      },
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/status/rollouts/${r.id}?token=${encodeURIComponent(viewerToken)}`);
    await page.waitForSelector('[data-fact="next"]');
    await expect(text(page, '[data-fact="next"]')).resolves.toMatch(
      /when an operator approves it \(promote with a reason\)/,
    );
    await expect(text(page, '#section-timeline [data-step="0"]')).resolves.toMatch(/approval gate[\s\S]*now/);
    // Past the 1 s deadline, the page refreshes itself into saying so.
    await page
      .locator('[data-fact="deadline"]', { hasText: 'Past its progress deadline' })
      .waitFor({ timeout: 15_000 });
    await context.close();
  });
});

describe('status page access', () => {
  it('shows a sign-in form, not data, without a token; the data endpoints answer 401', async () => {
    const html = await fetch(`${t.url}/status`);
    expect(html.status).toBe(401);
    const body = await html.text();
    expect(body).toContain('Sign in to the status page');
    expect(body).not.toContain('support-bot');
    const api = await fetch(`${t.url}/status/api/overview`);
    expect(api.status).toBe(401);
    expect(api.headers.get('content-type')).toContain('application/problem+json');
    expect((await fetch(`${t.url}/status/api/rollouts/${rollout.id}`)).status).toBe(401);
  });

  it('answers bad input with a clear 4xx, never a 500', async () => {
    const cookie = { cookie: `aviary_status=${viewerToken}` };
    const notUuid = await fetch(`${t.url}/status/api/rollouts/not-a-uuid`, { headers: cookie });
    expect(notUuid.status).toBe(404);
    expect(notUuid.headers.get('content-type')).toContain('application/problem+json');
    const unknown = await fetch(`${t.url}/status/api/rollouts/${randomUUID()}`, { headers: cookie });
    expect(unknown.status).toBe(404);
    expect((await fetch(`${t.url}/status/rollouts/not-a-uuid`, { headers: cookie })).status).toBe(404);
    expect((await fetch(`${t.url}/status/assets/..%2Fstatus.controller.ts`)).status).toBe(404);
    // A sign-in without a form body, with JSON, or with an oversized token: the form again, 401.
    for (const init of [
      { method: 'POST' },
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token": 5}' },
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${'x'.repeat(4000)}&next=https://evil.example`,
      },
    ]) {
      const res = await fetch(`${t.url}/status/login`, { ...init, redirect: 'manual' });
      expect(res.status).toBe(401);
      const html = await res.text();
      expect(html).toContain('Sign in to the status page');
      expect(html).not.toContain('evil.example');
    }
  });

  it('keeps the cookie when a proxy sends its own Authorization, and marks it Secure behind HTTPS', async () => {
    const withProxyAuth = await fetch(`${t.url}/status/api/overview`, {
      headers: { cookie: `aviary_status=${viewerToken}`, authorization: 'Basic cG06cG0=' },
    });
    expect(withProxyAuth.status).toBe(200);
    const login = await fetch(`${t.url}/status/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
      body: `token=${encodeURIComponent(viewerToken)}&next=/status`,
    });
    expect(login.status).toBe(303);
    expect(login.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Lax; Secure$/);
  });

  it('refuses an unknown token in the form and signs in with a viewer token', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/status/rollouts/${rollout.id}`);
    await page.fill('#token', 'avy_not-a-real-token-000000000000');
    await page.click('button[type=submit]');
    await expect(text(page, '.error')).resolves.toContain('unknown or revoked');
    await page.fill('#token', viewerToken);
    await page.click('button[type=submit]');
    // Back where it started, on the rollout's page.
    await page.waitForURL(`${t.url}/status/rollouts/${rollout.id}`);
    await page.waitForSelector('#section-header h1');
    await expect(text(page, '#section-header h1')).resolves.toContain('support-bot');
    await context.close();
  });

  it('takes a token link, keeps the token out of the address bar, and signs out', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/status?token=${encodeURIComponent(viewerToken)}`);
    expect(page.url()).toBe(`${t.url}/status`);
    await page.waitForSelector('[data-model="support-bot"]');
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'aviary_status')).toMatchObject({
      httpOnly: true,
      sameSite: 'Lax',
    });
    // A link followed from another site (chat, e-mail) still arrives signed in.
    await page.setContent(`<a id="shared" href="${t.url}/status/rollouts/${rollout.id}">rollout</a>`);
    await page.click('#shared');
    await page.waitForSelector('#section-header h1');
    await page.click('.who button');
    await page.waitForSelector('#token');
    await context.close();
  });

  it('signs the page out when its token is revoked', async () => {
    const extra = await t.api<{ token: string; id: string }>('POST', '/api/v1/tokens', {
      name: 'temp',
      role: 'viewer',
    });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/status?token=${encodeURIComponent(extra.body.token)}`);
    await page.waitForSelector('[data-model="support-bot"]');
    expect((await t.api('DELETE', `/api/v1/tokens/${extra.body.id}`)).status).toBe(200);
    // The next poll gets 401 and the page turns into the sign-in form.
    await page.waitForSelector('#token', { timeout: 10_000 });
    await context.close();
  });
});

describe('status page content', () => {
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    context = await signedInContext();
    page = await context.newPage();
  });
  afterAll(async () => {
    await context.close();
  });

  it('lists the model with its rollout: phase, step, split, time in step and what comes next', async () => {
    await page.goto(`${t.url}/status`);
    const row = page.locator(`[data-rollout="${rollout.id}"]`);
    await row.waitFor();
    const rowText = await row.innerText();
    expect(rowText).toContain('Progressing');
    expect(rowText).toContain('v2-int8');
    expect(rowText).toContain('vs v1');
    expect(await row.locator('[data-fact=step]').innerText()).toBe('Step 1 of 6: shadow (50% sampled)');
    expect(await row.locator('[data-fact=split]').innerText()).toBe(
      '0% of users on the candidate · 50% of requests shadowed',
    );
    expect(await row.locator('[data-fact=time-in-step]').innerText()).toMatch(/^\d+s in this step$/);
    expect(await row.locator('[data-fact=next]').innerText()).toMatch(
      /^Next: 5%, not before .+ \(in 59m \d+s\), if every guardrail passes$/,
    );
  });

  it('exports the verdict a progressing rollout waits on, and how long past its step minimum, for alerts', async () => {
    const metrics = await waitFor('the verdict gauge', async () => {
      const body = await (await fetch(`${t.url}/metrics`)).text();
      return body.includes('aviary_rollout_analysis_verdict{') ? body : null;
    });
    expect(metrics).toContain(
      `aviary_rollout_analysis_verdict{model="support-bot",rollout="${rollout.id}",verdict="Inconclusive"} 1`,
    );
    expect(metrics).toContain(
      `aviary_rollout_analysis_verdict{model="support-bot",rollout="${rollout.id}",verdict="Failed"} 0`,
    );
    expect(metrics).toContain(
      `aviary_rollout_step_overdue_seconds{model="support-bot",rollout="${rollout.id}"} 0`,
    );
  });

  it('shows a rollout’s timeline, shadow comparison with example pairs, and the analysis in a table', async () => {
    await addArm(seeded.baselineId, 'baseline', 1000, 40, 200);
    await addArm(seeded.candidateId, 'shadow', 1000, 50, 220);
    await addShadowPairs();
    await page.click(`[data-rollout="${rollout.id}"]`);
    await page.waitForURL(`${t.url}/status/rollouts/${rollout.id}`);
    await page.waitForSelector('tr[data-metric=refusalRate]');

    const steps = [];
    for (const li of await page.locator('.timeline li').all())
      steps.push([await li.getAttribute('data-status'), await li.locator('strong').innerText()]);
    expect(steps).toEqual([
      ['current', 'shadow (50% sampled)'],
      ['upcoming', '5%'],
      ['upcoming', '20%'],
      ['upcoming', '50%'],
      ['upcoming', '100%'],
      ['upcoming', 'bake at 100%'],
    ]);

    // The same figures the analysis API reports.
    const analysis = await t.api<{ guardrails: { metric: string; baseline: number; candidate: number }[] }>(
      'GET',
      `/api/v1/rollouts/${rollout.id}/analysis`,
    );
    const refusal = analysis.body.guardrails.find((g) => g.metric === 'refusalRate')!;
    expect([refusal.baseline, refusal.candidate]).toEqual([0.04, 0.05]);
    const row = page.locator('tr[data-metric=refusalRate]');
    expect(await row.locator('[data-col=baseline]').innerText()).toBe('4%');
    expect(await row.locator('[data-col=candidate]').innerText()).toBe('5%');
    expect(await row.locator('[data-col=difference]').innerText()).toMatch(/^\+25% \[.+, .+\]$/);
    expect(await row.locator('[data-col=limit]').innerText()).toBe('≤ +20%');
    expect(await row.locator('[data-col=samples]').innerText()).toBe('1,000 / 1,000');
    // And in plain words, without the interval.
    expect(await row.locator('[data-col=plain]').innerText()).toMatch(
      /^Looks 25% higher than the baseline \(allowed: 20% higher\), not certain/,
    );
    expect(await text(page, '#section-comparison h2')).toContain('shadow');
    // Thumbs-down does not apply to answers nobody saw.
    expect(await page.locator('tr[data-metric=thumbsDownRate]').count()).toBe(0);

    const shadow = await text(page, '#section-shadow');
    expect(shadow).toContain('Pairs compared\n50');
    expect(shadow).toContain('Identical answers\n40%');
    expect(shadow).toContain('How do I reset my router password?');
    expect(shadow).toContain('Press and hold reset for 10 seconds');
    expect(shadow).toContain('42% similar');
  });

  it('says in one line what an answer costs on each version', async () => {
    // What the routers' costUsd adds up to: 1,000 priced, useful answers per arm.
    const revision = await stepRevision();
    for (const [versionId, role, usd] of [
      [seeded.baselineId, 'baseline', 0.0018],
      [seeded.candidateId, 'shadow', 0.0021],
    ] as const) {
      const counters = { ...emptyArmCounters(), costN: 1000, costSum: 1000 * usd, usefulAnswers: 1000 };
      counters.costSumSq = 1000 * usd * usd;
      await store.applyOnce([{ kind: 'outcome', requestId: randomUUID(), role }], () => ({
        arms: [{ ...counters, rolloutId: rollout.id, revision, versionId, role, bucketStart: new Date() }],
        pairs: [],
        samples: [],
      }));
    }
    await page
      .locator('[data-fact=cost]', { hasText: 'cost per answer: $0.0021 vs $0.0018 (+17 %)' })
      .waitFor({ timeout: 15_000 });
    const analysis = await t.api<{ cost: { relativeDifference: { perRequest: number } } }>(
      'GET',
      `/api/v1/rollouts/${rollout.id}/analysis`,
    );
    expect(analysis.body.cost.relativeDifference.perRequest).toBeCloseTo(0.0021 / 0.0018 - 1, 9);
  });

  it('draws the metrics over time per version with Chart.js', async () => {
    await page.locator('[data-chart=refusalRate]').waitFor();
    const chart = await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow;
      const c = w.Chart.getChart(w.document.querySelector('[data-chart=refusalRate]'));
      return c.data.datasets.map((d) => ({ label: d.label, ys: d.data.map((p) => p.y) }));
    });
    expect(chart).toEqual([
      { label: 'v1 (baseline)', ys: [0.04, 0.04] },
      { label: 'v2-int8 (shadow)', ys: [0.05, 0.05] },
    ]);
    const latency = await page.locator('figure:has([data-chart=latencyP95Ms])').getAttribute('data-points');
    expect(latency).toBe('4');
  });

  it('updates without a reload when the rollout moves, and explains an automatic rollback in plain words', async () => {
    await page.evaluate(() => {
      (globalThis as unknown as PageWindow).notReloaded = true;
    });
    const promoted = await t.api('POST', `/api/v1/rollouts/${rollout.id}/promote`, {
      reason: 'shadow looks fine',
    });
    expect(promoted.status).toBe(200);
    await waitFor('the page to show the 5% step', async () =>
      (await text(page, '#section-header [data-fact=step]')) === 'Step 2 of 6: 5%' ? true : null,
    );
    const first = page.locator('.decision').first();
    expect(await first.locator('.headline').innerText()).toBe(
      'Promoted by bootstrap-admin from shadow (50% sampled) to 5% (manual override): “shadow looks fine”',
    );

    // Evidence for the 5% step: the candidate refuses five times as often. The control plane's
    // scheduler rolls it back on its own; the open page follows.
    await addArm(seeded.baselineId, 'baseline', 2000, 80, 200);
    await addArm(seeded.candidateId, 'candidate', 1000, 200, 200);
    await waitFor(
      'the page to show the automatic rollback',
      async () => ((await text(page, '#section-header')).includes('Rolled back') ? true : null),
      15_000,
    );
    const headline = await page.locator('.decision[data-type=AutoRolledBack] .headline').innerText();
    expect(headline).toMatch(
      /^Rolled back at 5%: refusal rate 20% vs 4% baseline, \+400% \(interval \+\d+%\.\.\+\d+%\), limit \+20%/,
    );
    expect(await page.locator('.timeline li[data-step="1"]').getAttribute('data-status')).toBe('stopped');
    expect(await page.locator('tr[data-metric=refusalRate] [data-col=verdict]').innerText()).toBe('Fail');
    expect(await page.evaluate(() => (globalThis as unknown as PageWindow).notReloaded)).toBe(true);
    const renders = await page.evaluate(() => (globalThis as unknown as PageWindow).aviaryStatus.renders);
    expect(renders).toBeGreaterThan(2);
  });

  it('keeps the last data and says so when Aviary cannot be reached, then goes live again by itself', async () => {
    await page.waitForSelector('#freshness:has-text("Live")');
    await page.route('**/status/api/**', (route) => route.fulfill({ status: 503, body: 'down' }));
    await page.waitForSelector('#freshness.stale', { timeout: 10_000 });
    expect(await text(page, '#freshness')).toBe('Cannot reach Aviary (the server answered 503); retrying…');
    expect(await text(page, '#section-header')).toContain('Rolled back');
    await page.unroute('**/status/api/**');
    await page.waitForSelector('#freshness:not(.stale):has-text("Live")', { timeout: 15_000 });
  });

  it('fits a phone-sized screen: no sideways scrolling of the page, the table scrolls in its box', async () => {
    const phone = await signedInContext({ width: 390, height: 844 });
    const p = await phone.newPage();
    for (const path of ['/status', `/status/rollouts/${rollout.id}`]) {
      await p.goto(`${t.url}${path}`);
      await p.waitForSelector(path === '/status' ? '[data-model]' : 'tr[data-metric]');
      const widths = await p.evaluate(() => {
        const w = globalThis as unknown as PageWindow;
        return { page: w.document.documentElement.scrollWidth, viewport: w.innerWidth };
      });
      expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    }
    const chartWidth = (await p.locator('.chart-box').first().boundingBox())?.width ?? 0;
    expect(chartWidth).toBeGreaterThan(300);
    expect(chartWidth).toBeLessThanOrEqual(390);
    await phone.close();
  });
});

describe('public status page', () => {
  it('needs no token when AVIARY_STATUS_PUBLIC says so', async () => {
    const open = await startTestControlPlane({ AVIARY_STATUS_PUBLIC: 'true' });
    try {
      const page = await fetch(`${open.url}/status`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('public view');
      const data = await fetch(`${open.url}/status/api/overview`);
      expect(data.status).toBe(200);
      expect(await data.json()).toMatchObject({ models: [] });
      // The admin API is not opened by it.
      expect((await fetch(`${open.url}/api/v1/rollouts`)).status).toBe(401);
      // Users' prompts and the models' answers stay behind a token.
      const m = await seedModel(open, 'public-bot');
      const r = await open.api<{ id: string }>('POST', '/api/v1/rollouts', {
        model: m.name,
        candidateVersion: 'v2-int8',
      });
      await new EvidenceStore(open.cp.app.get<PrismaClient>(PRISMA)).applyOnce(
        [{ kind: 'pair', requestId: randomUUID(), role: '' }],
        () => ({
          arms: [],
          pairs: [],
          samples: [
            {
              rolloutId: r.body.id,
              requestId: randomUUID(),
              at: new Date(),
              prompt: [{ role: 'user', content: 'my account number is 123' }],
              baselineOutput: 'ok',
              shadowOutput: 'ok',
              similarity: 1,
              baselineRefusal: false,
              shadowRefusal: false,
            },
          ],
        }),
      );
      const anonymous = await (await fetch(`${open.url}/status/api/rollouts/${r.body.id}`)).json();
      expect(anonymous).toMatchObject({ examples: [] });
      const signedIn = await open.api<{ examples: { prompt: string }[] }>(
        'GET',
        `/status/api/rollouts/${r.body.id}`,
      );
      expect(signedIn.body.examples.map((e) => e.prompt)).toEqual(['my account number is 123']);
    } finally {
      await open.close();
    }
  }, 30_000);
});

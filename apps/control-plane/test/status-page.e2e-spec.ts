import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { LATENCY_BUCKETS_MS, latencyBucketIndex } from '@aviary/domain';
import { emptyArmCounters, emptyPairCounters, EvidenceStore, type PrismaClient } from '@aviary/persistence';
import { launchChromium, waitFor } from '@aviary/testing';
import { PRISMA } from '../src/database/database.tokens';
import { fastPlan, seedModel, startTestControlPlane, type TestControlPlane } from './harness';

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

/** One attribute of every element a locator matches, in page order. */
async function attrs(locator: Locator, name: string): Promise<(string | null)[]> {
  const values = [];
  for (const el of await locator.all()) values.push(await el.getAttribute(name));
  return values;
}

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

  it('says a watch that ended without enough answers could not tell, rather than that it passed', async () => {
    const m = await seedModel(t);
    const { body: r } = await t.api<{ id: string }>('POST', '/api/v1/rollouts', {
      model: m.name,
      candidateVersion: 'v2-int8',
      plan: { steps: [{ type: 'setWeight', weight: 100, minDurationSeconds: 3600 }] },
    });
    await t.api('POST', `/api/v1/rollouts/${r.id}/start`);
    await t.api('POST', `/api/v1/rollouts/${r.id}/promote`, { full: true });
    // What the watcher files at the end of a watch short of minSamples (watch.spec.ts, lifecycle e2e).
    await prisma.rollout.update({ where: { id: r.id }, data: { watchStatus: 'inconclusive' } });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${t.url}/status/rollouts/${r.id}?token=${encodeURIComponent(viewerToken)}`);
    await page.waitForSelector('[data-fact="watch"]');
    await expect(text(page, '[data-fact="watch"]')).resolves.toBe(
      "v2-int8's watch ended without enough answers after promotion to say whether it regressed",
    );
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
    // The figures in words first; an early step's "Successful" with its estimate past the limit is
    // not called a pass.
    expect(await row.locator('[data-col=words] .line').innerText()).toBe(
      'refusals: 4% vs 5% — 25% higher, more than the allowed +20%, not certain yet',
    );
    expect(await row.locator('[data-col=verdict]').innerText()).toBe('Looks worse, not certain');
    expect(await row.locator('[data-col=plain]').innerText()).toMatch(
      /^Looks 25% higher than the baseline \(allowed: 20% higher\), not certain/,
    );
    expect(await row.innerText()).not.toMatch(/\[|thumbsDownRate|refusalRate/);
    // The interval is one click away.
    const interval = row.locator('[data-col=interval]');
    expect(await interval.isVisible()).toBe(false);
    await row.locator('summary').click();
    await interval.waitFor({ state: 'visible' });
    expect(await interval.innerText()).toMatch(/^\[.+, .+\]$/);
    expect(await row.locator('[data-col=baseline]').innerText()).toBe('4%');
    expect(await row.locator('[data-col=candidate]').innerText()).toBe('5%');
    expect(await row.locator('[data-col=difference]').innerText()).toBe('+25%');
    expect(await row.locator('[data-col=limit]').innerText()).toBe('≤ +20%');
    expect(await row.locator('[data-col=samples]').innerText()).toBe('1,000 / 1,000');
    // It stays open across the page's refreshes.
    const renders = await page.evaluate(() => (globalThis as unknown as PageWindow).aviaryStatus.renders);
    await waitFor('two more refreshes', async () =>
      (await page.evaluate(() => (globalThis as unknown as PageWindow).aviaryStatus.renders)) > renders + 1
        ? true
        : null,
    );
    expect(await interval.isVisible()).toBe(true);
    // The split bar names its colours.
    expect(await text(page, '#section-header [data-fact=legend]')).toBe(
      "v1 (baseline): 100% of users\nv2-int8 (candidate): 0% of users\n50% of requests also copied to v2-int8 in the background (users see only the baseline's answer)",
    );
    await page.screenshot({ path: '/tmp/pmpage-shadow-step.png', fullPage: true });
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
    // In words on the page; the technical summary with its interval is one click away.
    expect(headline).toBe(
      'Rolled back at 5%: refusals: 4% vs 20% — 400% higher, worse than the allowed +20%',
    );
    const details = page.locator('.decision[data-type=AutoRolledBack] details');
    await details.locator('summary').click();
    expect(await details.innerText()).toMatch(/interval/);
    expect(await page.locator('.timeline li[data-step="1"]').getAttribute('data-status')).toBe('stopped');
    expect(await page.locator('tr[data-metric=refusalRate] [data-col=verdict]').innerText()).toBe(
      'Worse than allowed',
    );
    // A rolled-back rollout says what happened, not "collecting evidence".
    expect(await text(page, '#section-comparison [data-fact=verdict]')).toBe(
      'Rolled back automatically: the baseline serves everyone. The figures below are from when it stopped.',
    );
    expect(await text(page, '#section-header .badge[data-phase]')).toBe('Rolled back');
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
    await p.screenshot({ path: '/tmp/pmpage-phone.png', fullPage: true });
    const chartWidth = (await p.locator('.chart-box').first().boundingBox())?.width ?? 0;
    expect(chartWidth).toBeGreaterThan(300);
    expect(chartWidth).toBeLessThanOrEqual(390);
    await phone.close();
  });
});

describe('status page: the whole story', () => {
  let context: BrowserContext;
  let page: Page;
  let faq: Awaited<ReturnType<typeof seedModel>>;
  let stopped: Rollout;
  let completed: Rollout;
  const hostile = '<img src=x onerror="globalThis.pwned=1">wrong prompt';

  beforeAll(async () => {
    context = await signedInContext({ width: 1100, height: 900 });
    page = await context.newPage();
    faq = await seedModel(t, 'faq-bot');
    const create = async (candidateVersion: string) => {
      const r = await t.api<Rollout>('POST', '/api/v1/rollouts', {
        model: faq.name,
        candidateVersion,
        plan: fastPlan(3600),
      });
      expect(r.status).toBe(201);
      expect((await t.api('POST', `/api/v1/rollouts/${r.body.id}/start`)).status).toBe(200);
      return r.body;
    };
    stopped = await create('v2-int8');
    expect((await t.api('POST', `/api/v1/rollouts/${stopped.id}/rollback`, { reason: hostile })).status).toBe(
      200,
    );
    // A rolled-back version is rejected: the next try is a new version.
    const v3 = await t.api('POST', `/api/v1/models/${faq.name}/versions`, {
      label: 'v3',
      upstreamBaseUrl: 'http://127.0.0.1:9/v1',
      upstreamModel: 'base-8b-v3',
    });
    expect(v3.status).toBe(201);
    completed = await create('v3');
    const full = await t.api('POST', `/api/v1/rollouts/${completed.id}/promote`, {
      full: true,
      reason: 'the PM signed off',
    });
    expect(full.status).toBe(200);
  });
  afterAll(async () => {
    await context.close();
  });

  it('keeps the automatic rollback of attempt 1 in the header and the timeline after a retry', async () => {
    const retried = await t.api('POST', `/api/v1/rollouts/${rollout.id}/retry`, {
      reason: 'refusal prompt fixed',
    });
    expect(retried.status).toBe(200);
    await page.goto(`${t.url}/status/rollouts/${rollout.id}`);
    const attempts = page.locator('#section-header [data-fact=attempts]');
    await attempts.waitFor();
    const said = await attempts.innerText();
    expect(said).toMatch(/^Attempt 2 of 2\. Earlier:\n/);
    expect(said).toMatch(
      /Attempt 1: rolled back automatically — Rolled back at 5%: refusals: 4% vs 20% — 400% higher, worse than the allowed \+20% \(/,
    );
    expect(await text(page, '#section-header .badge[data-phase]')).toBe('Progressing');
    // The current attempt's steps first, then attempt 1's, stopped where it was rolled back.
    const current = page.locator('#section-timeline ol.timeline:not(.timeline-earlier) li');
    expect(await current.first().getAttribute('data-status')).toBe('current');
    const earlier = page.locator('#section-timeline .earlier-attempt[data-attempt="1"]');
    expect(await earlier.locator('h3').innerText()).toMatch(/^Attempt 1: rolled back automatically/);
    expect(await attrs(earlier.locator('li'), 'data-status')).toEqual([
      'done',
      'stopped',
      'upcoming',
      'upcoming',
      'upcoming',
      'upcoming',
    ]);
    // The decision log still has both.
    expect(await page.locator('.decision[data-type=AutoRolledBack]').count()).toBe(1);
    expect(await page.locator('.decision[data-type=Retried]').count()).toBe(1);
    await page.screenshot({ path: '/tmp/pmpage-retried.png', fullPage: true });
  });

  it('says Completed (Healthy) where the API says Healthy, and what happened to a manual rollback', async () => {
    const api = await t.api<{ phase: string }>('GET', `/api/v1/rollouts/${completed.id}`);
    expect(api.body.phase).toBe('Healthy');
    await page.goto(`${t.url}/status/rollouts/${completed.id}`);
    await page.waitForSelector('#section-header .badge[data-phase]');
    expect(await text(page, '#section-header .badge[data-phase]')).toBe('Completed (Healthy)');
    await page.goto(`${t.url}/status/rollouts/${stopped.id}`);
    await page.waitForSelector('#section-comparison [data-fact=verdict]');
    expect(await text(page, '#section-comparison [data-fact=verdict]')).toBe(
      'Rolled back by bootstrap-admin: the baseline serves everyone. The figures below are from when it stopped.',
    );
    expect(await text(page, '#section-header [data-fact=message]')).toMatch(
      /^Rolled back in shadow \(50% sampled\) by bootstrap-admin: “<img src=x onerror="globalThis\.pwned=1">wrong prompt” \(.+\)$/,
    );
    await page.screenshot({ path: '/tmp/pmpage-rolled-back.png', fullPage: true });
  });

  it('lists every rollout of a model with how, when and by whom it ended', async () => {
    await page.goto(`${t.url}/status`);
    const link = page.locator('[data-model="faq-bot"] [data-fact=history]');
    await link.waitFor();
    expect(await link.innerText()).toBe('2 rollouts: 1 completed, 1 rolled back. Full history →');
    await link.locator('a').click();
    await page.waitForURL(`${t.url}/status/models/faq-bot`);
    await page.waitForSelector('.history-item');
    expect(await text(page, '[data-fact=history-summary]')).toBe('2 rollouts: 1 completed, 1 rolled back.');
    const items = page.locator('.history-item');
    expect(await attrs(items, 'data-rollout')).toEqual([completed.id, stopped.id]);
    const done = items.nth(0);
    expect(await done.locator('.badge').innerText()).toBe('Completed (Healthy)');
    expect(await done.locator('[data-fact=when]').innerText()).toMatch(
      /^started .+ · ended .+ by bootstrap-admin$/,
    );
    expect(await done.locator('[data-attempt="1"]').innerText()).toBe(
      'Attempt 1: completed by bootstrap-admin — Promoted by bootstrap-admin to the end (manual override): the candidate is now the stable version: “the PM signed off”',
    );
    const back = items.nth(1);
    expect(await back.locator('.badge').innerText()).toBe('Rolled back');
    // Escaped, never markup.
    expect(await back.locator('[data-attempt="1"]').innerText()).toContain(hostile);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    await page.screenshot({ path: '/tmp/pmpage-history.png', fullPage: true });
    // Unknown models: the page and its data say so (404), never a 500.
    const cookie = { cookie: `aviary_status=${viewerToken}` };
    expect((await fetch(`${t.url}/status/api/models/no-such-model`, { headers: cookie })).status).toBe(404);
    expect((await fetch(`${t.url}/status/api/models/Not%20A%20Name`, { headers: cookie })).status).toBe(404);
    expect((await fetch(`${t.url}/status/models/Not%20A%20Name`, { headers: cookie })).status).toBe(404);
    for (const path of [
      '/status/api/models/a%00b',
      '/status/models/a%00b',
      `/status/api/models/${'x'.repeat(5000)}`,
    ]) {
      const res = await fetch(`${t.url}${path}`, { headers: cookie });
      expect([400, 404, 414]).toContain(res.status);
    }
  });

  it('shows what changed this week on the overview, newest first', async () => {
    await page.goto(`${t.url}/status`);
    await page.waitForSelector('#section-changes .change');
    const titles = await page.locator('#section-changes .change .headline').allInnerTexts();
    expect(titles.slice(0, 5)).toEqual([
      'support-bot: rollout of v2-int8 retried from its first step',
      'faq-bot: v3 is now the stable version (was v1)',
      'faq-bot: rollout of v3 started (replacing v1)',
      'faq-bot: v2-int8 rolled back; v1 serves everyone',
      'faq-bot: rollout of v2-int8 started (replacing v1)',
    ]);
    expect(titles).toContain('support-bot: v2-int8 rolled back automatically; v1 serves everyone');
    const rolledBack = page.locator('#section-changes .change', {
      hasText: 'faq-bot: v2-int8 rolled back; v1 serves everyone',
    });
    expect(await rolledBack.innerText()).toContain(`bootstrap-admin`);
    expect(await rolledBack.innerText()).toContain(hostile);
    expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
    await page.screenshot({ path: '/tmp/pmpage-overview.png', fullPage: true });
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

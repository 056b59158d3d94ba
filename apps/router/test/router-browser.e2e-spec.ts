import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize } from 'node:path';
import type OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '@aviary/testing';
import { startStack, type Stack } from './stack';

// A browser app on another origin calling the router with the real openai SDK (its ESM build,
// loaded by the page) in a real headless Chromium: CORS preflights, reading the request id,
// streaming, and an error answer the app can read.
jest.setTimeout(90_000);

const SDK_DIR = dirname(require.resolve('openai'));

/** A static site: an empty page at / and the openai package's files under /openai/. */
async function startSite(): Promise<{ origin: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/') {
      // The app: the SDK's ESM build, from this origin, as a bundler would serve it.
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        '<!doctype html><title>chat app</title>' +
          '<script type="module">import OpenAI from "/openai/index.mjs"; globalThis.OpenAI = OpenAI;</script>',
      );
      return;
    }
    const file = normalize(join(SDK_DIR, path.replace(/^\/openai\//, '')));
    if (!path.startsWith('/openai/') || !file.startsWith(SDK_DIR)) {
      res.writeHead(404).end();
      return;
    }
    readFile(file).then(
      (body) => {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(body);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface BrowserResult {
  text?: string;
  requestId?: string | null;
  version?: string | null;
  streamed?: string;
  errorStatus?: number;
  errorName?: string;
  errorRequestId?: string | null;
}

/** Runs the app's calls in the page, with the SDK the page loaded. */
async function callRouter(
  page: Page,
  args: { routerUrl: string; key: string; model: string },
): Promise<BrowserResult> {
  await page.waitForFunction(() => 'OpenAI' in globalThis);
  return page.evaluate(async ({ routerUrl, key, model }) => {
    const SDK = (globalThis as unknown as { OpenAI: typeof OpenAI }).OpenAI;
    const client = new SDK({
      baseURL: `${routerUrl}/v1`,
      apiKey: key,
      dangerouslyAllowBrowser: true,
      maxRetries: 0,
    });
    const out: BrowserResult = {};
    try {
      const { data, response } = await client.chat.completions
        .create({
          model,
          messages: [{ role: 'user', content: 'hello from a browser' }],
          user: 'browser-user',
        })
        .withResponse();
      out.text = data.choices[0]?.message.content ?? '';
      out.requestId = response.headers.get('x-aviary-request-id');
      out.version = response.headers.get('x-aviary-model-version');
      const stream = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'stream to the browser' }],
        stream: true,
      });
      let streamed = '';
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
      out.streamed = streamed;
      const wrong = new SDK({
        baseURL: `${routerUrl}/v1`,
        apiKey: 'avk_wrong',
        dangerouslyAllowBrowser: true,
        maxRetries: 0,
      });
      await wrong.models.list();
    } catch (e) {
      const err = e as { status?: number; name?: string; headers?: Headers };
      out.errorStatus = err.status;
      out.errorName =
        e instanceof SDK.AuthenticationError
          ? 'AuthenticationError'
          : e instanceof SDK.APIConnectionError
            ? 'APIConnectionError'
            : String(err.name);
      out.errorRequestId = err.headers?.get('x-aviary-request-id') ?? null;
    }
    return out;
  }, args);
}

describe('a browser app on another origin, through the router (CORS)', () => {
  let s: Stack;
  let site: Awaited<ReturnType<typeof startSite>>;
  let elsewhere: Awaited<ReturnType<typeof startSite>>;
  let browser: Browser;

  beforeAll(async () => {
    site = await startSite();
    elsewhere = await startSite();
    s = await startStack({ AVIARY_CORS_ORIGINS: site.origin });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
    await site?.close();
    await elsewhere?.close();
  });

  it('serves an allowed origin: JSON, the request id, a stream, and a 401 the app can read', async () => {
    const page = await browser.newPage();
    await page.goto(site.origin);
    const r = await callRouter(page, {
      routerUrl: s.router.url,
      key: s.key,
      model: s.model,
    });
    expect(r.text).toContain('Answer from baseline');
    expect(r.requestId).toMatch(/^avy-/);
    expect(r.version).toBe('v1');
    expect(r.streamed).toContain('Answer from baseline');
    // The wrong key's answer reached the app with its status and request id (CORS on errors too).
    expect(r.errorName).toBe('AuthenticationError');
    expect(r.errorStatus).toBe(401);
    expect(r.errorRequestId).toMatch(/^avy-/);
    await page.close();
  });

  it('leaves a browser on an origin that is not listed unable to read anything', async () => {
    const page = await browser.newPage();
    await page.goto(elsewhere.origin);
    const r = await callRouter(page, {
      routerUrl: s.router.url,
      key: s.key,
      model: s.model,
    });
    expect(r.text).toBeUndefined();
    expect(r.errorStatus).toBeUndefined(); // no status: the browser blocked the answer
    expect(r.errorName).toBe('APIConnectionError');
    await page.close();
  });
});

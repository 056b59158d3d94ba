import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Behaviour, BehaviourPreset } from '@aviary/demo-llm';

const MAIN = join(__dirname, '..', '..', '..', 'dist', 'libs', 'demo-llm', 'src', 'main.js');

/** A demo model server in a process of its own, driven through its admin API. */
export interface DemoLlmProcess {
  /** Base URL for OpenAI clients, ending in /v1. */
  readonly url: string;
  /** http://host:port, for /admin/*. */
  readonly origin: string;
  /** PUT /admin/behaviour: a partial behaviour or a preset name. */
  setBehaviour(update: Partial<Behaviour> | BehaviourPreset): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts the built demo model server (`dist/libs/demo-llm/src/main.js`) in a child process on a free
 * port. For tests whose upstream must not share the event loop of the router or the client under
 * test: an in-process server building a 20 MB answer stops everything else in the process meanwhile.
 */
export async function startDemoLlmProcess(opts: { name: string; seed?: number }): Promise<DemoLlmProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env['PATH'] ?? '',
      DEMO_LLM_PORT: '0',
      DEMO_LLM_NAME: opts.name,
      DEMO_LLM_SEED: String(opts.seed ?? 0),
      AVIARY_LOG_FORMAT: 'json',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const started = await new Promise<{ url: string; origin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo-llm did not start within 15 s:\n${out}`)), 15_000);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        const url = /"url":"(http:\/\/[^"]+\/v1)"/.exec(line)?.[1];
        if (url) {
          clearTimeout(timer);
          resolve({ url, origin: url.replace(/\/v1$/, '') });
          return;
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`demo-llm exited with ${code}:\n${out}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    ...started,
    async setBehaviour(update) {
      const res = await fetch(`${started.origin}/admin/behaviour`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(typeof update === 'string' ? { preset: update } : update),
      });
      if (!res.ok) throw new Error(`demo-llm behaviour ${JSON.stringify(update)}: HTTP ${res.status}`);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Endpoint } from '@aviary/contracts';
import { pythonWithOpenAI, waitFor } from '@aviary/testing';
import { startStack, step, type Stack } from './stack';

// Each suite starts a control plane, a router and model servers: slow on a busy machine.
jest.setTimeout(120_000);

interface Check {
  check: string;
  ok: boolean;
  requestId: string | null;
  version: string | null;
  detail: unknown;
}

const SCRIPT = join(__dirname, 'python', 'openai_sdk_check.py');
const ENDPOINT_OF: Record<string, Endpoint> = {
  chat: 'chat.completions',
  'chat.stream': 'chat.completions',
  tools: 'chat.completions',
  json_schema: 'chat.completions',
  responses: 'responses',
  'responses.stream': 'responses',
  embeddings: 'embeddings',
  completions: 'completions',
  'completions.stream': 'completions',
};

describe('router through the openai-python SDK', () => {
  let s: Stack;
  let python: string;
  const keys = { revoked: '', budget: '', scoped: '' };
  // Not spawnSync: the router under test shares this process's event loop.
  const py = (user: string, extra: string[] = []): Promise<Check[]> =>
    new Promise((resolve, reject) => {
      execFile(
        python,
        [SCRIPT, `${s.router.url}/v1`, s.key, s.model, user, ...extra],
        { encoding: 'utf8', timeout: 90_000 },
        (err, stdout, stderr) => {
          if (err) return reject(new Error(`python failed: ${err.message}\n${stderr}`));
          resolve(
            stdout
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l) as Check),
          );
        },
      );
    });

  beforeAll(async () => {
    python = pythonWithOpenAI(); // a venv under ~/.cache/aviary, made the first time
    s = await startStack();
    const revoked = await s.createKey('py-revoked');
    await s.revokeKey(revoked.id, revoked.key);
    keys.revoked = revoked.key;
    keys.budget = (await s.createKey('py-budget', { tokensPerDay: 60 })).key;
    const other = `py-other-${s.model}`;
    await s.cp.api('POST', '/api/v1/models', { name: other });
    keys.scoped = (await s.createKey('py-scoped', { models: [other] })).key;
  }, 900_000);
  afterAll(async () => {
    await s?.close();
  });

  it('serves every endpoint, streamed and not, at 50 % with each user kept on one version; keys refused as they should be', async () => {
    const id = await s.rollout([step.weight(50), step.weight(100)]);
    const byUser = new Map<string, Set<string>>();
    for (let u = 0; u < 10; u++) {
      const user = `py-user-${u}`;
      const checks = await py(user, u === 0 ? [keys.revoked, keys.budget, keys.scoped] : []);
      for (const c of checks)
        expect({ check: c.check, ok: c.ok, detail: c.ok ? null : c.detail }).toEqual({
          check: c.check,
          ok: true,
          detail: null,
        });
      expect(checks.map((c) => c.check)).toEqual(
        expect.arrayContaining([
          ...Object.keys(ENDPOINT_OF),
          'responses.thread',
          'conversation',
          'models.retrieve',
          'key.missing',
          'key.wrong',
        ]),
      );
      if (u === 0)
        expect(checks.map((c) => c.check)).toEqual(
          expect.arrayContaining(['key.revoked', 'key.over_budget', 'key.scope']),
        );
      const versions = new Set(checks.filter((c) => c.version).map((c) => c.version!));
      byUser.set(user, versions);
      for (const c of checks.filter((x) => ENDPOINT_OF[x.check])) {
        await waitFor(`the outcome of ${c.check}`, () => s.outcomes.find((o) => o.requestId === c.requestId));
        expect(s.outcomes.find((o) => o.requestId === c.requestId)).toMatchObject({
          endpoint: ENDPOINT_OF[c.check],
          errorClass: null,
          keyId: expect.any(String) as string,
          ...(c.check.endsWith('.stream') ? { stream: true } : {}),
          ...(c.check === 'tools' ? { toolCalls: 1, toolCallErrors: 0 } : {}),
          ...(c.check === 'json_schema' ? { jsonRequested: true, invalidJson: false } : {}),
        });
      }
    }
    for (const versions of byUser.values()) expect(versions.size).toBe(1);
    const served = new Set([...byUser.values()].flatMap((v) => [...v]));
    expect(served).toEqual(new Set(['v1', 'v2']));
    await s.rollback(id);
  });

  it('mirrors every endpoint in shadow, streams as streams', async () => {
    await s.rollout([step.shadow(1), step.weight(100)]);
    const checks = await py('py-shadowed');
    for (const c of checks.filter((x) => ENDPOINT_OF[x.check])) {
      expect(c).toMatchObject({ ok: true, version: 'v1' });
      await waitFor(`the pair of ${c.check}`, () => s.pairs.find((p) => p.requestId === c.requestId), 15_000);
      const copy = s.outcomes.find((o) => o.requestId === c.requestId && o.role === 'shadow');
      expect(copy).toMatchObject({ endpoint: ENDPOINT_OF[c.check], stream: c.check.endsWith('.stream') });
    }
    const embeddingPair = s.pairs.find(
      (p) => p.requestId === checks.find((c) => c.check === 'embeddings')?.requestId,
    );
    expect(embeddingPair?.similarity).toBeGreaterThan(0.9);
  });
});

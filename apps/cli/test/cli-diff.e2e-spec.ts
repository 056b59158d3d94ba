import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_TOKEN, startTestControlPlane, type TestControlPlane } from '@aviary/control-plane/testing';
import { aviary } from './run-aviary';

const root = join(__dirname, '..', '..', '..');

// Runs the CLI as a process against a real control plane: seconds on a busy machine.
jest.setTimeout(60_000);

describe('aviary diff', () => {
  let t: TestControlPlane;
  let env: Record<string, string>;
  let scratch: string;

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'apps', 'cli', 'src', 'main.js')))
      throw new Error('dist is missing: run `npm run build` (npm test does)');
    scratch = mkdtempSync(join(tmpdir(), 'aviary-cli-diff-'));
    t = await startTestControlPlane({ AVIARY_ANALYSIS: 'manual' });
    env = { AVIARY_URL: t.url, AVIARY_TOKEN: ADMIN_TOKEN, AVIARY_DATA_DIR: scratch };
    await t.api('POST', '/api/v1/models', { name: 'support' });
    const base = { upstreamBaseUrl: 'http://127.0.0.1:9/v1', upstreamModel: 'llama-8b' };
    await t.api('POST', '/api/v1/models/support/versions', {
      label: 'v1',
      ...base,
      systemPrompt: 'You help with {{product}}.\nBe polite.',
      defaultParameters: { temperature: 0.7 },
    });
    await t.api('POST', '/api/v1/models/support/versions', {
      label: 'v2',
      ...base,
      systemPrompt: 'You help with {{product}}.\nBe brief.',
      defaultParameters: { temperature: 0.2 },
    });
  });
  afterAll(async () => {
    await t?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('prints the changed parameters and the prompt as a line diff', async () => {
    const r = await aviary(['diff', 'support', 'v1', 'v2'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      '--- support v1',
      '+++ support v2',
      '  defaultParameters.temperature  0.7 -> 0.2',
      'system prompt:',
      '  You help with {{product}}.',
      '- Be polite.',
      '+ Be brief.',
    ]);
  });

  it('prints the API answer with --json, says when nothing differs, and exits 4 for an unknown version', async () => {
    const json = await aviary(['diff', 'support', 'v1', 'v2', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ from: 'v1', to: 'v2', identical: false });
    const same = await aviary(['diff', 'support', 'v1', 'v1'], env);
    expect(same.stdout).toContain('v1 and v1 send the same requests');
    const missing = await aviary(['diff', 'support', 'v1', 'v9'], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('v9');
    const usage = await aviary(['diff', 'support', 'v1'], env);
    expect(usage.code).toBe(2);
  });
});

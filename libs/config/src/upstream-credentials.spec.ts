import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialEnvName, hostAllowed, upstreamAuthHeaders, UpstreamSecrets } from './upstream-credentials';

describe(UpstreamSecrets.name, () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'aviary-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a credential from its AVIARY_UPSTREAM_KEY_ env var', () => {
    const secrets = new UpstreamSecrets({ env: { AVIARY_UPSTREAM_KEY_OPENAI_PROD: ' sk-1 ' }, dir: null });
    expect(secrets.get('openai-prod')).toBe('sk-1');
  });

  it('never resolves another env var, whatever the name', () => {
    const env = { AVIARY_ADMIN_TOKEN: 'admin', DATABASE_URL: 'postgres://u:p@db/x', PATH: '/bin' };
    const secrets = new UpstreamSecrets({ env, dir: null });
    for (const name of ['AVIARY_ADMIN_TOKEN', 'DATABASE_URL', 'PATH', '../etc/passwd', 'a.b', ''])
      expect(secrets.get(name)).toBeNull();
  });

  it('reads a credential from a file in the secrets directory and re-reads it after the TTL', () => {
    let now = 0;
    writeFileSync(join(dir, 'azure-east'), 'key-1\n');
    const secrets = new UpstreamSecrets({ env: {}, dir, fileTtlMs: 1000, now: () => now });
    expect(secrets.get('azure-east')).toBe('key-1');
    writeFileSync(join(dir, 'azure-east'), 'key-2\n');
    expect(secrets.get('azure-east')).toBe('key-1');
    now = 1001;
    expect(secrets.get('azure-east')).toBe('key-2');
  });

  it('does not follow names out of the secrets directory', () => {
    writeFileSync(join(dir, 'x'), 'inside');
    const secrets = new UpstreamSecrets({ env: {}, dir: join(dir, 'sub') });
    expect(secrets.get('../x')).toBeNull();
  });

  it('takes the directory from AVIARY_UPSTREAM_SECRETS_DIR', () => {
    writeFileSync(join(dir, 'vllm'), 'k');
    expect(new UpstreamSecrets({ env: { AVIARY_UPSTREAM_SECRETS_DIR: dir } }).get('vllm')).toBe('k');
  });

  it('describes where a secret is looked for without revealing it', () => {
    const secrets = new UpstreamSecrets({ env: { AVIARY_UPSTREAM_KEY_A: 'secret' }, dir });
    expect(secrets.describe('a')).toBe(`the env var AVIARY_UPSTREAM_KEY_A or the file ${join(dir, 'a')}`);
  });
});

describe(credentialEnvName.name, () => {
  it.each([
    ['openai-prod', 'AVIARY_UPSTREAM_KEY_OPENAI_PROD'],
    ['VLLM_B_API_KEY', 'AVIARY_UPSTREAM_KEY_VLLM_B_API_KEY'],
  ])('%s -> %s', (name, env) => expect(credentialEnvName(name)).toBe(env));
});

describe(upstreamAuthHeaders.name, () => {
  it.each([
    ['bearer', { authorization: 'Bearer k' }],
    ['api-key', { 'api-key': 'k' }],
    ['x-api-key', { 'x-api-key': 'k' }],
  ] as const)('%s', (scheme, headers) => expect(upstreamAuthHeaders(scheme, 'k')).toEqual(headers));
});

describe(hostAllowed.name, () => {
  it.each([
    [['api.openai.com'], 'https://api.openai.com/v1', true],
    [['api.openai.com'], 'https://api.openai.com.evil.test/v1', false],
    [['API.OpenAI.com'], 'https://api.openai.com/v1', true],
    [['vllm-b:8000'], 'http://vllm-b:8000/v1', true],
    [['vllm-b:8000'], 'http://vllm-b:9000/v1', false],
    [['vllm-b'], 'http://vllm-b:9000/v1', true],
    [['*.openai.azure.com'], 'https://east.openai.azure.com/openai', true],
    [['*.openai.azure.com'], 'https://openai.azure.com/openai', false],
    [['*.openai.azure.com'], 'https://evilopenai.azure.com/', false],
    [[], 'https://api.openai.com/v1', false],
    [['x'], 'not a url', false],
  ])('%j allows %s: %s', (hosts, url, allowed) => expect(hostAllowed(hosts, url)).toBe(allowed));
});

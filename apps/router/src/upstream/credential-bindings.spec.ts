import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UpstreamSecrets } from '@aviary/config';
import { CredentialBindings, type RefusalReason } from './credential-bindings';
import { UPSTREAM_NOT_ALLOWED, UpstreamError } from './upstream-client';

const dir = mkdtempSync(join(tmpdir(), 'aviary-bindings-spec-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const secrets = new UpstreamSecrets({ env: { AVIARY_UPSTREAM_KEY_OPENAI: 'sk-openai' }, dir: null });
const vA = { apiKeyRef: 'openai', baseUrl: 'https://api.openai.com/v1', label: 'v1' };
const vB = { ...vA, baseUrl: 'https://evil.example.com/v1' };

/** Bindings known from a backup file (the feed itself is unreachable here), with fakes for the rest. */
function bindingsWith(credentials: unknown[] | null) {
  const backupFile = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  if (credentials) writeFileSync(backupFile, JSON.stringify({ version: 1, credentials }));
  let now = 1_000_000;
  const counted: Array<{ model: string; credential: string; reason: RefusalReason }> = [];
  const logged: string[] = [];
  const b = new CredentialBindings({
    url: 'http://127.0.0.1:9/api/router/credentials',
    refreshMs: 60_000,
    backupFile,
    secrets,
    refusals: { inc: (l) => counted.push(l) },
    log: (_level, m) => logged.push(m),
    now: () => now,
  });
  return { b, counted, logged, advance: (ms: number) => (now += ms) };
}

function refusal(fn: () => unknown): UpstreamError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UpstreamError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe(CredentialBindings.name, () => {
  const openai = [{ name: 'openai', authScheme: 'bearer', allowedHosts: ['api.openai.com'] }];

  it.each([
    ['its host', openai, vA, null],
    ['another host', openai, vB, 'host'],
    ['a credential the control plane does not declare', [], vA, 'undeclared'],
    ['no bindings known at all (fail closed)', null, vA, 'no_bindings'],
  ] as const)('for %s: %s', (_case, credentials, target, reason) => {
    const { b, counted } = bindingsWith(credentials ? [...credentials] : null);
    if (reason === null) {
      expect(b.headersFor(target, 'chat')).toEqual({ authorization: 'Bearer sk-openai' });
      expect(counted).toEqual([]);
      return;
    }
    const err = refusal(() => b.headersFor(target, 'chat'));
    expect(err.causeCode).toBe(UPSTREAM_NOT_ALLOWED);
    expect(err.errorClass).toBe('connect');
    expect(err.message).toContain('`openai`');
    expect(err.message).not.toContain('sk-openai');
    expect(counted).toEqual([{ model: 'chat', credential: 'openai', reason }]);
  });

  it('sends the credential under the scheme the control plane binds, not the one the flag names', () => {
    const { b } = bindingsWith([{ name: 'openai', authScheme: 'api-key', allowedHosts: ['api.openai.com'] }]);
    expect(b.headersFor({ ...vA, authScheme: 'bearer' } as typeof vA, 'chat')).toEqual({
      'api-key': 'sk-openai',
    });
  });

  it('sends nothing (and refuses nothing) for a version without a credential or one this router has no secret for', () => {
    const { b } = bindingsWith(null);
    expect(b.headersFor({ ...vB, apiKeyRef: null }, 'chat')).toEqual({});
    expect(b.headersFor({ ...vB, apiKeyRef: 'not-here' }, 'chat')).toEqual({});
    expect(b.status().refused).toEqual([]);
  });

  it('shows a refused model as degraded until it is served again, and logs a repeat at most once a minute', () => {
    const { b, logged, advance } = bindingsWith(openai);
    for (let i = 0; i < 3; i++) refusal(() => b.headersFor(vB, 'chat'));
    expect(b.status().refused).toEqual([
      expect.objectContaining({
        model: 'chat',
        version: 'v1',
        credential: 'openai',
        host: 'evil.example.com',
        reason: 'host',
        count: 3,
      }),
    ]);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toContain('upstream_not_allowed: model chat version v1');
    advance(61_000);
    refusal(() => b.headersFor(vB, 'chat'));
    expect(logged).toHaveLength(2);
    b.headersFor(vA, 'chat'); // the flag is fixed
    expect(b.status().refused).toEqual([]);
  });

  it('stops showing an old refusal after five minutes without one', () => {
    const { b, advance } = bindingsWith(openai);
    refusal(() => b.headersFor(vB, 'chat'));
    advance(4 * 60_000);
    expect(b.status().refused).toHaveLength(1);
    advance(2 * 60_000);
    expect(b.status().refused).toEqual([]);
  });
});

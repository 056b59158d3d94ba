import { Counter, Registry } from 'prom-client';
import { ClientAuth, isFailure, presentedKey } from './client-auth';
import { routerKey } from '../../test/proxy-fakes';
import { hashKey, type RouterKey } from './router-keys';

const key = (over: Partial<RouterKey> = {}): RouterKey => routerKey({ name: 'mobile-app', ...over });

function auth(keys: Record<string, RouterKey>, ready = true) {
  const byHash = new Map(Object.entries(keys).map(([k, v]) => [hashKey(k), v]));
  const failures = new Counter({ name: 'f', help: 'f', labelNames: ['reason'], registers: [new Registry()] });
  return new ClientAuth(
    {
      lookup: (p) => byHash.get(hashKey(p)) ?? null,
      status: () => ({
        ready,
        sourceReachable: ready,
        lastError: null,
        lastUpdateAt: null,
        keys: byHash.size,
      }),
    },
    failures,
  );
}

describe(presentedKey.name, () => {
  it.each([
    [{ authorization: 'Bearer avr_abc' }, 'avr_abc'],
    [{ authorization: 'bearer   avr_abc ' }, 'avr_abc'],
    [{ 'api-key': 'avr_abc' }, 'avr_abc'],
    [{ 'x-api-key': 'avr_abc' }, 'avr_abc'],
    [{ authorization: 'Basic dXNlcjpwYXNz' }, null],
    [{}, null],
  ])('reads %j as %p', (headers, expected) => {
    expect(presentedKey(headers)).toBe(expected);
  });
});

describe(ClientAuth.name, () => {
  it('knows an active key, and answers 401 for a missing, wrong or revoked one', () => {
    const a = auth({ avr_good: key() });
    expect(a.authenticate({ authorization: 'Bearer avr_good' })).toEqual(key());
    const missing = a.authenticate({});
    const wrong = a.authenticate({ authorization: 'Bearer avr_wrong_and_long' });
    expect(isFailure(missing) && missing).toMatchObject({ status: 401, code: 'missing_api_key' });
    expect(isFailure(wrong) && wrong).toMatchObject({ status: 401, code: 'invalid_api_key' });
    expect(isFailure(wrong) && wrong.message).not.toContain('avr_wrong_and_long'); // masked
  });

  it('answers 503 while it has no key list at all', () => {
    expect(auth({}, false).authenticate({ authorization: 'Bearer avr_x' })).toMatchObject({
      status: 503,
      code: 'keys_unavailable',
    });
  });

  it('keeps a scoped key to its models with a 403', () => {
    const a = auth({});
    const scoped = key({ models: new Set(['support-chat']) });
    expect(a.admit(scoped, 'support-chat')).toBeNull();
    expect(a.admit(scoped, 'billing-chat')).toMatchObject({
      status: 403,
      type: 'permission_error',
      code: 'model_not_allowed',
    });
  });

  it('rate-limits a key per minute with Retry-After', () => {
    const a = auth({});
    const limited = key({ requestsPerMinute: 2 });
    expect(a.admit(limited, 'm')).toBeNull();
    expect(a.admit(limited, 'm')).toBeNull();
    expect(a.admit(limited, 'm')).toMatchObject({
      status: 429,
      code: 'rate_limit_exceeded',
      headers: { 'retry-after': '30' },
    });
  });

  it('stops a key that used its daily tokens with insufficient_quota', () => {
    const a = auth({});
    const budget = key({ tokensPerDay: 100 });
    expect(a.admit(budget, 'm')).toBeNull();
    a.charge(budget, 60);
    expect(a.admit(budget, 'm')).toBeNull();
    a.charge(budget, 60);
    expect(a.admit(budget, 'm')).toMatchObject({
      status: 429,
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    });
  });
});

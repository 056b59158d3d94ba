import { routerKey } from '../../test/proxy-fakes';
import type { RouterKey } from '../auth/router-keys';
import { mayForceVersion } from './request-context';

const key = (over: Partial<RouterKey> = {}): RouterKey => routerKey({ name: 'oncall', ...over });

describe(mayForceVersion.name, () => {
  // prettier-ignore
  it.each([
    { name: 'nobody by default', allowed: [], key: key(), may: false },
    { name: 'a key created with the permission', allowed: [], key: key({ mayForceVersion: true }), may: true },
    { name: 'a key named in the router setting', allowed: ['oncall'], key: key(), may: true },
    { name: 'a key listed by id', allowed: ['k1'], key: key(), may: true },
    { name: 'not another key', allowed: ['someone-else'], key: key(), may: false },
    { name: 'anyone with *, also without a key', allowed: ['*'], key: null, may: true },
    { name: 'no one without a key otherwise', allowed: ['oncall'], key: null, may: false },
  ])('$name', ({ allowed, key: k, may }) => {
    expect(mayForceVersion(allowed, k)).toBe(may);
  });
});

import { readCookie, safeNext } from './status-access';

describe('readCookie', () => {
  it.each<[string | undefined, string | null]>([
    [undefined, null],
    ['', null],
    ['aviary_status=avy_abc', 'avy_abc'],
    ['a=1; aviary_status=avy_%2Fx; b=2', 'avy_/x'],
    ['xaviary_status=nope', null],
    ['aviary_status=', null],
    ['aviary_status=%E0%A4%A', null],
  ])('%j -> %j', (header, value) => {
    expect(readCookie(header, 'aviary_status')).toBe(value);
  });
});

describe('safeNext', () => {
  it.each<[unknown, string]>([
    [
      '/status/rollouts/2f1c5b1e-0000-4000-8000-000000000000',
      '/status/rollouts/2f1c5b1e-0000-4000-8000-000000000000',
    ],
    ['/status', '/status'],
    ['https://evil.example/status', '/status'],
    ['//evil.example', '/status'],
    ['/status/../api/v1/tokens', '/status'],
    ['/statusx', '/status'],
    ['/status/models/llama-3.1-8b', '/status/models/llama-3.1-8b'],
    ['/status/models/..', '/status'],
    [undefined, '/status'],
    [['/status/a'], '/status'],
  ])('%j -> %s', (next, target) => {
    expect(safeNext(next)).toBe(target);
  });
});

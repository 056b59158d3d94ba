import type { UpstreamTarget } from '@aviary/domain';
import { QueueFullError } from './concurrency-limiter';
import { coded, UPSTREAM_NOT_ALLOWED, UpstreamError } from './upstream-client';
import { failureAnswer, failureStatus } from './upstream-errors';

const target = { timeoutMs: 800 } as UpstreamTarget;

describe(failureAnswer.name, () => {
  it.each([
    [
      'connect refused',
      new UpstreamError('connect', 'could not reach the upstream (ECONNREFUSED)'),
      502,
      'upstream_unreachable',
      'upstream_error',
    ],
    [
      'a 500',
      new UpstreamError('upstream_5xx', 'upstream answered 500', 500),
      502,
      'upstream_error',
      'upstream_error',
    ],
    [
      'a 503',
      new UpstreamError('upstream_5xx', 'upstream answered 503', 503),
      503,
      'upstream_error',
      'upstream_error',
    ],
    [
      'a timeout',
      new UpstreamError('timeout', 'the upstream did not answer in time'),
      504,
      'upstream_timeout',
      'timeout_error',
    ],
    [
      'a credential refused for its host',
      new UpstreamError('connect', 'not allowed', null, null, coded(UPSTREAM_NOT_ALLOWED, 'not allowed')),
      502,
      'upstream_not_allowed',
      'upstream_error',
    ],
    ['a full queue', new QueueFullError('queue-full'), 429, 'upstream_saturated', 'rate_limit_error'],
    ['a queue timeout', new QueueFullError('queue-timeout'), 429, 'upstream_saturated', 'rate_limit_error'],
  ])('answers %s with %i %s', (_name, err, status, code, type) => {
    expect(failureAnswer(err, 'support-chat', target)).toMatchObject({ status, code, type });
  });

  it('names the model and the timeout in the message', () => {
    expect(failureAnswer(new UpstreamError('timeout', 'x'), 'support-chat', target).message).toBe(
      'The model `support-chat` did not answer within 800 ms.',
    );
  });

  it('tells a saturated client when to come back', () => {
    expect(failureAnswer(new QueueFullError('queue-full'), 'm', target).headers).toEqual({
      'retry-after': '1',
    });
  });
});

describe(failureStatus.name, () => {
  it.each([
    [new UpstreamError('connect', 'x'), 502],
    [new UpstreamError('timeout', 'x'), 504],
    [new UpstreamError('client_aborted', 'x'), 499],
    [new UpstreamError('upstream_5xx', 'x', 503), 503],
    [new UpstreamError('shed', 'x', 429), 429],
  ])('records %p as status %i', (err, status) => {
    expect(failureStatus(err)).toBe(status);
  });

  it('keeps the cause and its undici code', () => {
    const cause = Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    const err = new UpstreamError('connect', 'could not reach', null, null, cause);
    expect(err.cause).toBe(cause);
    expect(err.causeCode).toBe('UND_ERR_CONNECT_TIMEOUT');
  });
});

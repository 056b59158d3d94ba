import { isRetriable, retryRetriable } from './retry-retriable';

const retriable = (message: string) => Object.assign(new Error(message), { retriable: true });
const noSleep = () => Promise.resolve();

describe(retryRetriable.name, () => {
  it('tries again after a retriable error and returns the later success', async () => {
    const errors = [retriable('This server does not host this topic-partition')];
    const retried: number[] = [];
    const fn = jest.fn(() => {
      const e = errors.shift();
      return e ? Promise.reject(e) : Promise.resolve('subscribed');
    });
    await expect(
      retryRetriable(fn, { attempts: 5, delayMs: 10, sleep: noSleep, onRetry: (_e, n) => retried.push(n) }),
    ).resolves.toBe('subscribed');
    expect(fn).toHaveBeenCalledTimes(2);
    expect(retried).toEqual([1]);
  });

  it('throws an error that is not retriable at once', async () => {
    const fn = jest.fn(() => Promise.reject(new Error('SASL authentication failed')));
    await expect(retryRetriable(fn, { attempts: 5, delayMs: 10, sleep: noSleep })).rejects.toThrow('SASL');
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('gives up after the last attempt with the last error, waiting longer each time', async () => {
    const waits: number[] = [];
    const fn = jest.fn(() => Promise.reject(retriable('leader not available')));
    await expect(
      retryRetriable(fn, {
        attempts: 3,
        delayMs: 100,
        sleep: (ms) => {
          waits.push(ms);
          return Promise.resolve();
        },
      }),
    ).rejects.toThrow('leader not available');
    expect(fn).toHaveBeenCalledTimes(3);
    expect(waits).toEqual([100, 200]);
  });

  it.each([
    [retriable('x'), true],
    [Object.assign(new Error('x'), { retriable: false }), false],
    [new Error('x'), false],
    ['a string', false],
    [null, false],
  ])('isRetriable(%p) is %p', (err, expected) => {
    expect(isRetriable(err)).toBe(expected);
  });
});

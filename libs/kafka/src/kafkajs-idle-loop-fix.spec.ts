import { installKafkajsIdleLoopFix } from './kafkajs-idle-loop-fix';

// kafkajs' own request queue (plain JavaScript, no socket involved), with the fix installed.
interface Queue {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  destroy(): void;
}
const silent = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

function queue(): Queue {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RequestQueue = require('kafkajs/src/network/requestQueue') as new (o: object) => Queue;
  return new RequestQueue({
    maxInFlightRequests: 1,
    requestTimeout: 30_000,
    enforceRequestTimeout: false,
    clientId: 'spec',
    broker: 'localhost:9092',
    logger: silent,
  });
}

describe('the kafkajs idle timer loop fix', () => {
  beforeAll(() => expect(installKafkajsIdleLoopFix()).toBe(true));
  beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
  afterEach(() => jest.useRealTimers());

  it.each([
    { what: 'nothing pending, not throttled', pending: 0, until: -1, delay: null, when: 'never' },
    {
      what: 'requests pending behind the in-flight limit',
      pending: 1,
      until: -1,
      delay: 10,
      when: 'in 10 ms',
    },
    {
      what: 'requests pending behind a throttle',
      pending: 1,
      until: 1_000_000 + 250,
      delay: 250,
      when: 'when it ends',
    },
    {
      what: 'a throttle in force, nothing pending',
      pending: 0,
      until: 1_000_000 + 40,
      delay: 40,
      when: 'when it ends',
    },
  ])('after a check with $what, arms the next check $when', ({ pending, until, delay }) => {
    const q = queue();
    q.inflight.set(1, {}); // the in-flight limit (1) is reached: pending requests stay pending
    q.pending = Array.from({ length: pending }, () => ({}));
    q.throttledUntil = until;
    q.checkPendingRequests();
    if (delay === null) {
      expect(q.throttleCheckTimeoutId).toBeNull();
      expect(jest.getTimerCount()).toBe(0);
    } else {
      expect(q.throttleCheckTimeoutId).not.toBeNull();
      const check = jest.spyOn(q, 'checkPendingRequests');
      jest.advanceTimersByTime(delay - 1);
      expect(check).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(check).toHaveBeenCalledTimes(1);
    }
    q.destroy();
  });

  it('does not re-arm itself once the queue has drained', () => {
    const q = queue();
    q.pending = [{}];
    q.inflight.set(1, {});
    q.checkPendingRequests();
    expect(jest.getTimerCount()).toBe(1);
    q.pending = []; // sent meanwhile
    jest.advanceTimersByTime(10);
    expect(q.throttleCheckTimeoutId).toBeNull();
    jest.advanceTimersByTime(1_000);
    expect(jest.getTimerCount()).toBe(0);
    q.destroy();
  });
});

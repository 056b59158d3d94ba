/**
 * kafkajs 2.2.4 (the last release) re-arms a 1 ms timer on every broker connection for as long as the
 * connection is open, even with nothing to send: `RequestQueue.checkPendingRequests()` always calls
 * `scheduleCheckPendingRequests()`, which with no throttle computes a negative delay and arms
 * `setTimeout(check, negative)` (= 1 ms), which calls `checkPendingRequests()` again. An idle router with
 * a producer wakes its event loop about 1,000 times a second per connection (strace: epoll_pwait with a
 * 1 ms timeout, back to back), about 5 % of a core doing nothing, and under load every turn of the loop
 * also runs that timer. Upstream: tulios/kafkajs#1556 and #1704, fixed by the unmerged #1667.
 *
 * The replacement below arms the timer only when something waits for it, as #1667 does: requests are
 * pending (in-flight limit or throttle), or a throttle is in force. Nothing else is lost: `push()`, a
 * fulfilled request and a timed-out one all call `checkPendingRequests()` themselves.
 *
 * Installed once, on the prototype, by `createKafka`; it is a no-op if kafkajs' internals have changed
 * shape (a kafkajs upgrade should make this file go away; the int-spec counts the timers either way).
 */

/** The fields of kafkajs' `src/network/requestQueue` this relies on. */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs' own interval for pending requests that are not throttled (`CHECK_PENDING_REQUESTS_INTERVAL`). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

let installed = false;

/** Patches kafkajs' RequestQueue once; returns whether the patch is in place. */
export function installKafkajsIdleLoopFix(): boolean {
  if (installed) return true;
  let proto: Partial<RequestQueueInternals> | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- kafkajs exports no path to it
    const RequestQueue = require('kafkajs/src/network/requestQueue') as {
      prototype?: Partial<RequestQueueInternals>;
    };
    proto = RequestQueue.prototype;
  } catch {
    return false;
  }
  if (
    !proto ||
    typeof proto.scheduleCheckPendingRequests !== 'function' ||
    typeof proto.checkPendingRequests !== 'function'
  )
    return false;
  proto.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  installed = true;
  return true;
}

function scheduleCheckPendingRequests(this: RequestQueueInternals): void {
  if (this.throttleCheckTimeoutId) return;
  const throttledForMs = this.throttledUntil - Date.now();
  // Nothing waits: the next push, fulfilled or timed-out request checks the queue itself.
  if (this.pending.length === 0 && throttledForMs <= 0) return;
  const delayMs = throttledForMs > 0 ? throttledForMs : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delayMs);
}

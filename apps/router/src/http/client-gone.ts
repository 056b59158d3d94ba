/**
 * What an upstream call listens to for its client going away: an `AbortSignal`, or the router's
 * own {@link ClientGone}.
 */
export interface AbortSource {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * Fires once when a client leaves before its answer is complete, so the upstream call can be cut.
 * It stands in for an `AbortController` per request: Node 20 builds every `AbortSignal` by giving a
 * fresh `EventTarget` a new prototype, and V8 11 then keeps each signal, and everything its
 * listeners reach (the upstream call and its request), through young-generation GCs until the
 * next full one. One signal per request made ~10 % of what the router promoted to the old
 * generation (docs/benchmarks.md; `node bench/v8-promotion.mjs abortSignal`); a plain class has no such cost. Listeners are
 * called once, in the order added; a listener added after the abort is never called (check
 * `aborted` first, as with an `AbortSignal`).
 */
export class ClientGone implements AbortSource {
  private done = false;
  private listeners: (() => void)[] = [];

  get aborted(): boolean {
    return this.done;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.done) this.listeners.push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners.indexOf(listener);
    if (i !== -1) this.listeners.splice(i, 1);
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

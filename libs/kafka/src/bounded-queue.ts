/**
 * A FIFO ring buffer with a hard capacity: O(1) push at the tail, take and put-back at the head. Both event
 * sinks queue on it, so `publish()` costs the same whether 10 or 50,000 events are waiting. Storage grows by
 * doubling up to the capacity, so an idle sink does not hold a 50,000-slot array.
 */
export class BoundedQueue<T> {
  private slots: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.slots = new Array<T | undefined>(Math.min(capacity, 1024));
  }

  get length(): number {
    return this.size;
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** Appends at the tail; false (and nothing stored) when full. */
  push(item: T): boolean {
    if (this.size >= this.capacity) return false;
    if (this.size === this.slots.length) this.grow();
    this.slots[(this.head + this.size) % this.slots.length] = item;
    this.size++;
    return true;
  }

  /** Removes and returns up to `max` items from the head, oldest first. */
  take(max: number): T[] {
    const n = Math.min(max, this.size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      out[i] = this.slots[this.head] as T;
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.slots.length;
    }
    this.size -= n;
    return out;
  }

  /**
   * Puts `items` (which were taken from the head, so they are older than everything queued) back at the
   * head in their order. What does not fit is dropped from the oldest end; returns how many were dropped.
   */
  putBack(items: readonly T[]): number {
    const room = this.capacity - this.size;
    const dropped = Math.max(0, items.length - room);
    while (this.slots.length - this.size < items.length - dropped) this.grow();
    for (let i = items.length - 1; i >= dropped; i--) {
      this.head = (this.head - 1 + this.slots.length) % this.slots.length;
      this.slots[this.head] = items[i];
      this.size++;
    }
    return dropped;
  }

  /** Empties the queue; returns how many items it held. */
  clear(): number {
    const n = this.size;
    this.slots = new Array<T | undefined>(Math.min(this.capacity, 1024));
    this.head = 0;
    this.size = 0;
    return n;
  }

  private grow(): void {
    const next = new Array<T | undefined>(Math.min(this.capacity, this.slots.length * 2));
    for (let i = 0; i < this.size; i++) next[i] = this.slots[(this.head + i) % this.slots.length];
    this.slots = next;
    this.head = 0;
  }
}

/**
 * Fixed-capacity FIFO. Grows lazily up to `capacity` so that thousands of
 * mostly idle streams do not each pre-allocate their full history.
 */
export class Ring<T> {
  private buf: T[] = [];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.count;
  }

  /** Appends; returns the element pushed out when full. */
  push(item: T): T | undefined {
    if (this.count < this.capacity) {
      this.buf[(this.head + this.count) % this.capacity] = item;
      this.count++;
      return undefined;
    }
    const evicted = this.buf[this.head];
    this.buf[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
    return evicted;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined as T; // release the reference
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  first(): T | undefined {
    return this.count === 0 ? undefined : this.buf[this.head];
  }

  last(): T | undefined {
    return this.count === 0 ? undefined : this.buf[(this.head + this.count - 1) % this.capacity];
  }

  /** Element `i` counted from the oldest. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.buf[(this.head + i) % this.capacity];
  }

  /** Elements from index `start` (oldest = 0) to the newest. */
  sliceFrom(start: number): T[] {
    const out: T[] = [];
    for (let i = Math.max(0, start); i < this.count; i++) out.push(this.buf[(this.head + i) % this.capacity]);
    return out;
  }

  clear(): void {
    this.buf = [];
    this.head = 0;
    this.count = 0;
  }
}

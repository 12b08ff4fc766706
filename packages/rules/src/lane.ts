import type { RateLimit } from "@meshwork/destination-kit";
import type { HeapItem } from "./heap.js";
import { Breaker, RateWindow, type ResolvedBreaker } from "./limits.js";

/** Where a live delivery is. */
export const Where = { Idle: 0, Queued: 1, Scheduled: 2, InFlight: 3, Done: 4 } as const;
/** One of `Where`'s values. */
export type Where = (typeof Where)[keyof typeof Where];

/** The part of a live delivery a lane needs. */
export interface Queued extends HeapItem {
  where: Where;
  /** The keyed budget this delivery counts against; undefined until computed, null for none. */
  key: string | null | undefined;
}

interface KeyedQueue<T> {
  window: RateWindow;
  items: T[];
  head: number;
}

/**
 * One connection's dispatch state: a FIFO of ready deliveries, the concurrency in use, the rate
 * window, keyed budgets (e.g. one Slack channel), a vendor-requested pause and the breaker.
 * A lane never blocks another: each has its own queue, limits and single wake-up timer.
 */
export class Lane<T extends Queued> {
  private items: T[] = [];
  private head = 0;
  private readonly keyed = new Map<string, KeyedQueue<T>>();
  private keyedCount = 0;
  /** Ready deliveries waiting here (canceled ones are removed lazily and not counted). */
  queued = 0;
  inFlight = 0;
  pausedUntil = 0;
  wakeTimer: unknown = undefined;
  wakeAt = Infinity;
  /** Queue position up to which parked deliveries were stamped with the probe time. */
  parkedUpTo = 0;
  parkedFor = 0;
  readonly breaker: Breaker;
  readonly window: RateWindow | undefined;

  constructor(
    readonly id: string,
    readonly concurrency: number,
    rateLimit: RateLimit | undefined,
    breaker: ResolvedBreaker,
    private readonly keyLimit: (item: T) => { key: string | null; limit?: RateLimit },
  ) {
    this.window = rateLimit ? new RateWindow(rateLimit) : undefined;
    this.breaker = new Breaker(breaker);
  }

  /** Drops everything queued (the engine stopped; the store keeps the deliveries). */
  reset(): void {
    this.items = [];
    this.head = 0;
    this.keyed.clear();
    this.keyedCount = 0;
    this.queued = 0;
    this.inFlight = 0;
    this.pausedUntil = 0;
    this.parkedUpTo = 0;
    this.parkedFor = 0;
  }

  push(item: T): void {
    item.where = Where.Queued;
    this.items.push(item);
    this.queued++;
  }

  /** Forget a queued item (it was canceled); it is skipped when reached. */
  forget(item: T): void {
    if (item.where === Where.Queued) {
      item.where = Where.Idle;
      this.queued--;
    }
  }

  /** Every queued item, in order (for parking and for failing a disabled connection). */
  *pending(): Iterable<T> {
    for (const queue of this.keyed.values()) for (let i = queue.head; i < queue.items.length; i++) if (queue.items[i]!.where === Where.Queued) yield queue.items[i]!;
    for (let i = this.head; i < this.items.length; i++) if (this.items[i]!.where === Where.Queued) yield this.items[i]!;
  }

  /** Items of the main queue not yet stamped as parked. */
  *unparked(probeAt: number): Iterable<T> {
    if (this.parkedFor !== probeAt) {
      this.parkedFor = probeAt;
      this.parkedUpTo = 0;
      for (const queue of this.keyed.values()) for (let i = queue.head; i < queue.items.length; i++) if (queue.items[i]!.where === Where.Queued) yield queue.items[i]!;
    }
    for (let i = Math.max(this.head, this.parkedUpTo); i < this.items.length; i++) {
      if (this.items[i]!.where === Where.Queued) yield this.items[i]!;
    }
    this.parkedUpTo = this.items.length;
  }

  /**
   * The next item allowed to start now (its keyed budget taken), or undefined. Items whose key
   * is out of budget move to that key's queue so they do not hold up other keys.
   */
  next(now: number): T | undefined {
    if (this.keyedCount > 0) {
      for (const queue of this.keyed.values()) {
        if (queue.head < queue.items.length && queue.window.available(now)) {
          const item = this.shiftKeyed(queue);
          if (item) {
            queue.window.take(now);
            return item;
          }
        }
      }
    }
    while (this.head < this.items.length) {
      const item = this.items[this.head]!;
      this.items[this.head++] = undefined as unknown as T;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.parkedUpTo = Math.max(0, this.parkedUpTo - this.head);
        this.head = 0;
      }
      if (item.where !== Where.Queued) continue;
      if (item.key === undefined) {
        const { key, limit } = this.keyLimit(item);
        item.key = key;
        if (key !== null && limit && !this.keyed.has(key)) this.keyed.set(key, { window: new RateWindow(limit), items: [], head: 0 });
      }
      if (item.key === null || !this.keyed.has(item.key)) {
        this.queued--;
        return item;
      }
      const queue = this.keyed.get(item.key)!;
      if (queue.head >= queue.items.length && queue.window.available(now)) {
        queue.window.take(now);
        this.queued--;
        return item;
      }
      queue.items.push(item);
      this.keyedCount++;
    }
    return undefined;
  }

  /** When a keyed queue can go next, if any holds items. */
  keyedNextAt(now: number): number {
    let at = Infinity;
    for (const queue of this.keyed.values()) if (queue.head < queue.items.length) at = Math.min(at, queue.window.nextAt(now));
    return at;
  }

  private shiftKeyed(queue: KeyedQueue<T>): T | undefined {
    while (queue.head < queue.items.length) {
      const item = queue.items[queue.head++]!;
      this.keyedCount--;
      if (queue.head === queue.items.length) {
        queue.items = [];
        queue.head = 0;
      }
      if (item.where !== Where.Queued) continue;
      this.queued--;
      return item;
    }
    return undefined;
  }
}

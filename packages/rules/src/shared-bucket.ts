import type { RateLimit } from "@meshwork/destination-kit";
import type { Clock, SharedLimits } from "./types.js";

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * One process's side of a connection's token bucket kept by the store (e.g. a Postgres row), so
 * a rate limit holds across processes. Requests wait in FIFO order; one round trip at a time
 * takes as many tokens as there are waiters (the store caps it), and each token is spent at once,
 * so no process sits on tokens another could use.
 */
export class SharedBucket {
  private readonly waiters: Waiter[] = [];
  private running = false;

  constructor(
    private readonly limits: SharedLimits,
    readonly bucket: string,
    private readonly limit: RateLimit,
    private readonly clock: Clock,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Resolves when this request may go out; rejects with the signal's reason when aborted first. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.waiters.indexOf(waiter);
          if (index !== -1) this.waiters.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.waiters.push(waiter);
      void this.run();
    });
  }

  /** Requests waiting for a token. */
  get waiting(): number {
    return this.waiters.length;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, Math.max(1, ms)));
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiters.length > 0) {
        let taken: { granted: number; waitMs: number };
        try {
          taken = await this.limits.take(this.bucket, this.limit, this.waiters.length);
        } catch (error) {
          this.onError(error);
          await this.sleep(500);
          continue;
        }
        for (let i = 0; i < taken.granted && this.waiters.length > 0; i++) {
          const waiter = this.waiters.shift()!;
          if (waiter.onAbort) waiter.signal!.removeEventListener("abort", waiter.onAbort);
          waiter.resolve();
        }
        if (taken.granted === 0) await this.sleep(taken.waitMs);
      }
    } finally {
      this.running = false;
    }
  }
}

import type { RateLimitOptions } from "./types.js";

/** Token buckets by key (publishable key or access key); keys are known ones only, so the map stays small. */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly capacity: number;
  private readonly perMsRate: number;

  constructor(limit: RateLimitOptions) {
    this.capacity = Math.max(1, limit.requests);
    this.perMsRate = limit.requests / limit.perMs;
  }

  /** Takes one token; answers 0 when allowed, else how long to wait for the next token, ms. */
  take(key: string, now: number): number {
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { tokens: this.capacity, at: now }));
    else if (now > bucket.at) {
      bucket.tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.perMsRate);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMsRate));
  }
}

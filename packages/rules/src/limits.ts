import type { RateLimit } from "@meshwork/destination-kit";
import type { BreakerOptions } from "./types.js";

/**
 * At most `requests` starts in any `perMs` window: a token bucket whose tokens come back
 * exactly `perMs` after they were spent, kept as a ring of the last start times.
 */
export class RateWindow {
  private readonly times: Float64Array;
  private position = 0;
  private filled = 0;
  readonly requests: number;
  readonly perMs: number;

  constructor(limit: RateLimit) {
    this.requests = Math.max(1, Math.floor(limit.requests));
    this.perMs = Math.max(0, limit.perMs);
    this.times = new Float64Array(this.requests);
  }

  available(now: number): boolean {
    return this.filled < this.requests || this.times[this.position]! + this.perMs <= now;
  }

  take(now: number): void {
    this.times[this.position] = now;
    this.position = (this.position + 1) % this.requests;
    if (this.filled < this.requests) this.filled++;
  }

  /** When the next token is back. */
  nextAt(now: number): number {
    return this.filled < this.requests ? now : Math.max(now, this.times[this.position]! + this.perMs);
  }
}

/** What an attempt's outcome means for the breaker. */
export type BreakerSignal = "success" | "failure" | "neutral";

/** A resolved breaker policy. */
export interface ResolvedBreaker {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

/** Engine defaults, then the engine's options, then the connection's. */
export function resolveBreaker(...layers: Array<BreakerOptions | undefined>): ResolvedBreaker {
  const out: ResolvedBreaker = { failureThreshold: 10, cooldownMs: 30_000, maxCooldownMs: 600_000 };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.failureThreshold !== undefined) out.failureThreshold = layer.failureThreshold;
    if (layer.cooldownMs !== undefined) out.cooldownMs = layer.cooldownMs;
    if (layer.maxCooldownMs !== undefined) out.maxCooldownMs = layer.maxCooldownMs;
  }
  return out;
}

/**
 * A circuit breaker per connection: after `failureThreshold` consecutive retryable failures it
 * opens and holds deliveries back (no attempt is spent), lets one probe through after the
 * cool-down, closes when the probe succeeds and opens again, with a doubled cool-down, when it fails.
 */
export class Breaker {
  state: "closed" | "open" | "half_open" = "closed";
  failures = 0;
  /** When an open circuit lets its probe through. */
  probeAt = 0;
  openedAt = 0;
  probing = false;
  /** Driven from outside (a breaker shared through the store): an open circuit never half-opens by itself. */
  external = false;
  private cooldown: number;

  constructor(private readonly policy: ResolvedBreaker) {
    this.cooldown = policy.cooldownMs;
  }

  /** May an attempt start now? Moves an open circuit to half-open when its cool-down is over. */
  allows(now: number): boolean {
    if (this.state === "closed") return true;
    if (this.state === "open") {
      if (now < this.probeAt || this.external) return false;
      this.state = "half_open";
      this.probing = false;
    }
    return !this.probing;
  }

  /** Call when an attempt starts; in half-open state it is the probe. */
  started(): void {
    if (this.state === "half_open") this.probing = true;
  }

  /** Records an outcome; returns true when the circuit just opened. */
  record(signal: BreakerSignal, now: number): boolean {
    if (signal === "success") {
      this.state = "closed";
      this.failures = 0;
      this.probing = false;
      this.cooldown = this.policy.cooldownMs;
      return false;
    }
    if (signal === "neutral") {
      if (this.state === "half_open") this.probing = false;
      return false;
    }
    if (this.state === "half_open") {
      this.cooldown = Math.min(this.cooldown * 2, Math.max(this.policy.maxCooldownMs, this.policy.cooldownMs));
      this.open(now);
      return true;
    }
    if (this.state === "open") return false;
    this.failures++;
    if (this.policy.failureThreshold > 0 && this.failures >= this.policy.failureThreshold) {
      this.open(now);
      return true;
    }
    return false;
  }

  private open(now: number): void {
    this.state = "open";
    this.openedAt = now;
    this.probeAt = now + this.cooldown;
    this.probing = false;
  }
}

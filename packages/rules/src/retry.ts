import type { RetryOptions } from "./types.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Attempts at 0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (each counted from the previous failure). */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

/** A retry policy with every default filled in. */
export interface ResolvedRetry {
  schedule: readonly number[];
  jitter: number;
  maxRetryAfterMs: number;
}

/** Engine defaults, then the engine's options, then the connection's. */
export function resolveRetry(...layers: Array<RetryOptions | undefined>): ResolvedRetry {
  const out: ResolvedRetry = { schedule: DEFAULT_RETRY_SCHEDULE, jitter: 0.2, maxRetryAfterMs: HOUR };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.schedule) out.schedule = layer.schedule;
    if (layer.jitter !== undefined) out.jitter = layer.jitter;
    if (layer.maxRetryAfterMs !== undefined) out.maxRetryAfterMs = layer.maxRetryAfterMs;
  }
  return out;
}

/** `delay` spread uniformly over ±`jitter` of itself. */
export function jittered(delay: number, jitter: number, random: () => number): number {
  if (delay <= 0 || jitter <= 0) return Math.max(0, delay);
  return Math.round(delay * (1 - jitter + 2 * jitter * random()));
}

/**
 * The delay before the next attempt, or undefined when the round's attempts are used up.
 * `attemptsInRound` counts the attempts made since the round began (ingest, retry or replay).
 * A `Retry-After` replaces the scheduled delay, clamped to `maxRetryAfterMs`, without jitter.
 */
export function nextDelay(policy: ResolvedRetry, attemptsInRound: number, retryAfterMs: number | undefined, random: () => number): number | undefined {
  if (attemptsInRound >= policy.schedule.length) return undefined;
  if (retryAfterMs !== undefined) return Math.min(Math.max(0, retryAfterMs), policy.maxRetryAfterMs);
  return jittered(policy.schedule[attemptsInRound]!, policy.jitter, random);
}

import type { Delivery } from "@meshwork/rules";

/** The attempt outcomes, in the order the series lists them. */
export const OUTCOMES = [
  "delivered",
  "rejected_client_error",
  "rejected_server_error",
  "rate_limited",
  "auth_failed",
  "timeout",
  "network_error",
  "mapping_error",
  "internal_error",
] as const;
export type OutcomeName = (typeof OUTCOMES)[number];

const MINUTE = 60_000;
/** How far back the series reaches. */
export const SERIES_RETENTION_MS = 24 * 3600_000;
/** Attempts per connection that the success rate covers. */
export const HEALTH_WINDOW = 100;
const OUTCOME_INDEX = new Map<string, number>(OUTCOMES.map((o, i) => [o, i]));
/** A delivery change that follows an attempt carries one of these statuses. */
const AFTER_ATTEMPT = new Set(["completed", "failed", "retrying"]);

/** What the dashboard shows about one connection's recent attempts. */
export interface ConnectionHealth {
  /** Attempts this process made since it started. */
  attempts: number;
  /** Of the last `window` attempts, how many delivered. */
  window: number;
  delivered: number;
  /** `delivered / window`, or null before the first attempt. */
  success_rate: number | null;
  last_outcome: OutcomeName | null;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

interface ConnectionState {
  ring: Uint8Array;
  next: number;
  filled: number;
  attempts: number;
  lastOutcome: number;
  lastAttemptAt: number;
  lastSuccessAt: number;
  lastError: string | null;
  lastErrorAt: number;
}

/** One bucket of the series: attempts by outcome. */
export interface SeriesBucket {
  start: string;
  counts: Record<OutcomeName, number>;
}

const iso = (ms: number) => (ms ? new Date(ms).toISOString() : null);

/**
 * Counts delivery attempts by workspace, minute and outcome, and keeps each connection's recent
 * outcomes and last error, from the engine's `delivery` events. In memory and per process: it
 * covers what this process attempted since it started, up to 24 hours back.
 */
export function createDeliveryStats(options: { now?: () => number } = {}) {
  const now = options.now ?? Date.now;
  const startedAt = now();
  // workspace → minute (epoch ms) → counts by outcome index
  const minutes = new Map<string, Map<number, Uint32Array>>();
  const connections = new Map<string, ConnectionState>();
  let pruneAt = 0;

  function prune(time: number): void {
    if (time < pruneAt) return;
    pruneAt = time + MINUTE;
    const oldest = time - SERIES_RETENTION_MS - MINUTE;
    for (const byMinute of minutes.values()) for (const minute of byMinute.keys()) if (minute < oldest) byMinute.delete(minute);
  }

  /** Feeds one `delivery` event of the engine; counts it when it follows an attempt. */
  function record(delivery: Delivery): void {
    if (!AFTER_ATTEMPT.has(delivery.status) || delivery.last_outcome === null) return;
    const outcome = OUTCOME_INDEX.get(delivery.last_outcome);
    if (outcome === undefined) return;
    const at = Date.parse(delivery.updated_at) || now();
    prune(now());
    let byMinute = minutes.get(delivery.workspace);
    if (!byMinute) minutes.set(delivery.workspace, (byMinute = new Map()));
    const minute = at - (at % MINUTE);
    let counts = byMinute.get(minute);
    if (!counts) byMinute.set(minute, (counts = new Uint32Array(OUTCOMES.length)));
    counts[outcome]!++;

    let state = connections.get(delivery.connection);
    if (!state) {
      state = { ring: new Uint8Array(HEALTH_WINDOW), next: 0, filled: 0, attempts: 0, lastOutcome: -1, lastAttemptAt: 0, lastSuccessAt: 0, lastError: null, lastErrorAt: 0 };
      connections.set(delivery.connection, state);
    }
    state.ring[state.next] = outcome;
    state.next = (state.next + 1) % HEALTH_WINDOW;
    state.filled = Math.min(HEALTH_WINDOW, state.filled + 1);
    state.attempts++;
    state.lastOutcome = outcome;
    state.lastAttemptAt = at;
    if (outcome === 0) state.lastSuccessAt = at;
    else {
      state.lastError = delivery.last_error;
      state.lastErrorAt = at;
    }
  }

  /** Attempts by outcome in `bucketMs` buckets over the last `windowMs`, oldest first, for one or more workspaces. */
  function series(workspaces: readonly string[], windowMs: number, bucketMs: number) {
    const end = now();
    const lastBucket = end - (end % bucketMs);
    const count = Math.ceil(windowMs / bucketMs);
    const first = lastBucket - (count - 1) * bucketMs;
    const sums = Array.from({ length: count }, () => new Uint32Array(OUTCOMES.length));
    for (const workspace of workspaces) {
      for (const [minute, counts] of minutes.get(workspace) ?? []) {
        if (minute < first || minute > end) continue;
        const bucket = sums[Math.floor((minute - first) / bucketMs)];
        if (bucket) for (let i = 0; i < OUTCOMES.length; i++) bucket[i]! += counts[i]!;
      }
    }
    const buckets: SeriesBucket[] = sums.map((counts, i) => ({
      start: new Date(first + i * bucketMs).toISOString(),
      counts: Object.fromEntries(OUTCOMES.map((o, k) => [o, counts[k]!])) as Record<OutcomeName, number>,
    }));
    const totals = Object.fromEntries(OUTCOMES.map((o, k) => [o, sums.reduce((sum, c) => sum + c[k]!, 0)])) as Record<OutcomeName, number>;
    return { since: new Date(first).toISOString(), until: new Date(end).toISOString(), tracking_since: new Date(startedAt).toISOString(), bucket_ms: bucketMs, buckets, totals };
  }

  /** The recent attempts of one connection. */
  function health(connection: string): ConnectionHealth {
    const state = connections.get(connection);
    if (!state) {
      return { attempts: 0, window: 0, delivered: 0, success_rate: null, last_outcome: null, last_attempt_at: null, last_success_at: null, last_error: null, last_error_at: null };
    }
    let delivered = 0;
    for (let i = 0; i < state.filled; i++) if (state.ring[i] === 0) delivered++;
    return {
      attempts: state.attempts,
      window: state.filled,
      delivered,
      success_rate: state.filled ? delivered / state.filled : null,
      last_outcome: OUTCOMES[state.lastOutcome] ?? null,
      last_attempt_at: iso(state.lastAttemptAt),
      last_success_at: iso(state.lastSuccessAt),
      last_error: state.lastError,
      last_error_at: iso(state.lastErrorAt),
    };
  }

  return { record, series, health };
}

export type DeliveryStats = ReturnType<typeof createDeliveryStats>;

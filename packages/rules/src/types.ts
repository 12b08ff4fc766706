import type { ExchangeSummary, Outcome, RateLimit } from "@meshwork/destination-kit";

// ─── Configuration ──────────────────────────────────────────────────────────────────────────

/** The environment a workspace runs in. */
export type Environment = "production" | "staging" | "development";

/** One tenant in one environment. Nothing crosses workspaces. */
export interface WorkspaceConfig {
  id: string;
  name: string;
  environment: Environment;
  /** Keys that name this workspace on ingest (`mw_pub_…`, or Meshes' `mesh_pub_…`). Each belongs to one workspace only. */
  publishableKeys: string[];
  description?: string | null;
}

/** Per-engine or per-connection retry policy. */
export interface RetryOptions {
  /**
   * Delay before each attempt, ms: the first entry is the delay before attempt 1 (normally 0),
   * each later one is counted from the end of the previous failed attempt. Its length is the
   * number of attempts. Default `[0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h]`.
   */
  schedule?: number[];
  /** Each scheduled delay is spread by ± this fraction. Default 0.2 (±20 %). */
  jitter?: number;
  /** Upper bound on an honoured `Retry-After`, ms. Default 1 h. */
  maxRetryAfterMs?: number;
}

/** Per-engine or per-connection circuit breaker. */
export interface BreakerOptions {
  /** Consecutive retryable failures that open the circuit; 0 turns the breaker off. Default 10. */
  failureThreshold?: number;
  /** Time the circuit stays open before one probe is let through, ms. Default 30 s; doubles after each failed probe. */
  cooldownMs?: number;
  /** Upper bound of the doubling cool-down, ms. Default 10 min. */
  maxCooldownMs?: number;
}

/** A configured destination inside a workspace. */
export interface ConnectionConfig {
  id: string;
  workspace: string;
  /** The destination type, e.g. `"hubspot"`; a destination of that type must be passed to the engine. */
  type: string;
  name: string;
  /** `sandbox` runs the real adapter against the destination's in-memory simulator. */
  mode: "live" | "sandbox";
  /** Checked against the destination's credentials schema. Never logged, never returned by the API. */
  credentials: Record<string, unknown>;
  /** Overrides the destination's default budget. */
  rateLimit?: RateLimit;
  /** Overrides the destination's default number of deliveries in flight. */
  concurrency?: number;
  retry?: RetryOptions;
  breaker?: BreakerOptions;
  /** Per-request timeout, ms (default: the destination's, else 10 s). */
  timeoutMs?: number;
}

/** The operators of a `when` condition. */
export type ConditionOp = "eq" | "neq" | "in" | "nin" | "exists" | "gt" | "gte" | "lt" | "lte" | "contains" | "starts_with";

/**
 * A condition on the event payload: a comparison at a dot path, or `all` / `any` / `not`
 * combinations of conditions. JSON-friendly, so it survives a round-trip through a file.
 *
 * @example
 * { all: [{ path: "plan", op: "in", value: ["pro", "team"] }, { not: { path: "email", op: "contains", value: "@test." } }] }
 */
export type Condition =
  | { path: string; op: ConditionOp; value?: unknown }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

/** A value change applied to a mapped field, in order. A bare string is shorthand for `{ type }`. */
export type MappingTransform =
  | "to_string"
  | "to_number"
  | "to_boolean"
  | "to_date"
  | "to_datetime"
  | "trim"
  | "lower"
  | "upper"
  | { type: "to_string" | "to_number" | "to_boolean" | "trim" | "lower" | "upper" }
  | { type: "to_date" | "to_datetime"; timezone?: string }
  | { type: "default"; value: string | number | boolean | null }
  | { type: "substring"; start: number; end?: number; length?: number };

/** What happens when a field cannot be produced: drop it, drop it with a warning on the attempt, or fail the attempt. */
export type MappingErrorPolicy = "skip_field" | "warn_action" | "fail_action";

/** One field of a mapping. */
export interface MappingField {
  /** Where the value goes in `mapped`; dots make nested objects (`properties.plan`). */
  dest: string;
  /** A dot path into the payload, or a literal value. */
  source: { type: "path"; value: string } | { type: "literal"; value: string | number | boolean | null };
  transforms?: MappingTransform[];
  /** Default `warn_action`. */
  on_error?: MappingErrorPolicy;
  notes?: string;
}

/** A field mapping, Meshes `schema_version: 1`: the result is passed to the action as `mapped`. */
export interface Mapping {
  schema_version: 1;
  fields: MappingField[];
  meta?: { name?: string; notes?: string };
}

/** A rule, in the Meshes shape: binds an event to one connection with an action and its fields. */
export interface RuleConfig {
  id: string;
  workspace: string;
  connection: string;
  /** The event name, matched exactly. */
  event: string;
  /** When set, only events with this `resource`. */
  resource?: string | null;
  /** When set, only events with this `resource_id`. */
  resource_id?: string | null;
  /** When set, only events whose payload satisfies it. */
  when?: Condition;
  /** `action` names the destination's action; the other fields are that action's metadata (may hold `{{templates}}`). */
  metadata: { action: string; [field: string]: unknown };
  mapping?: Mapping;
  /** Default true. An inactive rule matches nothing. */
  active?: boolean;
}

/** A machine access key for the management API (used by `@meshwork/server`). */
export interface AccessKeyConfig {
  accessKey: string;
  secretKey: string;
  /** The workspaces this key may read and manage. */
  workspaces: string[];
}

/** What `defineConfig` takes. */
export interface MeshworkConfigInput {
  workspaces: WorkspaceConfig[];
  connections: ConnectionConfig[];
  rules: RuleConfig[];
  accessKeys?: AccessKeyConfig[];
}

/** A checked configuration, as returned by `defineConfig`. Secrets are hidden from `JSON.stringify` and `console.log`. */
export interface MeshworkConfig {
  readonly kind: "meshwork.config";
  readonly workspaces: readonly WorkspaceConfig[];
  readonly connections: readonly ConnectionConfig[];
  readonly rules: readonly RuleConfig[];
  readonly accessKeys: readonly AccessKeyConfig[];
}

// ─── Clock ─────────────────────────────────────────────────────────────────────────────────

/** Time and timers, injectable so tests can run hours of retries in milliseconds. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A clock that moves only when told to; see `createTestClock`. */
export interface TestClock extends Clock {
  readonly isTestClock: true;
  advance(ms: number): void;
  advanceTo(time: number): void;
  /** When the earliest timer is due, or undefined when none is set. */
  nextTimerAt(): number | undefined;
  pendingTimers(): number;
}

// ─── Records ───────────────────────────────────────────────────────────────────────────────

/** Status of a delivery (Meshes: rule event). */
export type DeliveryStatus = "pending" | "processing" | "retrying" | "completed" | "failed" | "canceled";

/**
 * Status of an event, from its deliveries: `pending` until one is tried, `processing` while any
 * is open, then `failed` if any failed, `canceled` if all were canceled, else `completed`
 * (an event no rule matched is `completed` at once).
 */
export type EventStatus = "pending" | "processing" | "completed" | "failed" | "canceled";

/** An event the engine accepted, as the bulk ingest answers it (the Meshes record). */
export interface StoredEvent {
  id: string;
  type: "event";
  event: string;
  workspace: string;
  created_by: string;
  created_at: string;
  resource: string | null;
  resource_id: string | null;
}

/** A record of the bulk answer that was not stored; `error` is a code, `field` the offending field. */
export interface FailedRecord {
  message: string;
  error: string;
  field?: string;
  retryable?: boolean;
}

/** The bulk ingest answer, the body of Meshes' `POST /api/v1/events/bulk` 201/207; records are positional. */
export interface IngestResult {
  count: number;
  error_count?: number;
  records: Array<StoredEvent | FailedRecord>;
}

/** An event as `ingest` takes it (the wire form); `id` is generated (UUIDv7) when omitted. */
export interface IngestEvent {
  id?: string;
  event: string;
  payload: Record<string, unknown>;
  resource?: string | null;
  resource_id?: string | null;
  /** Optional; when given it must be the workspace of the publishable key. */
  workspace?: string;
}

/** An event in a listing. */
export interface EventSummary extends StoredEvent {
  status: EventStatus;
  total_rules: number;
  completed_count: number;
  failed_count: number;
}

/** One delivery (event × rule) as the API shows it. */
export interface Delivery {
  id: string;
  type: "rule";
  workspace: string;
  event_id: string;
  event: string;
  rule_id: string;
  connection: string;
  integration_type: string;
  action: string;
  status: DeliveryStatus;
  attempt_count: number;
  next_attempt_at: string | null;
  last_error: string | null;
  last_outcome: Outcome | null;
  /** The same for every attempt; sent to destinations that honour one. */
  idempotency_key: string;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

/** An event with its payload and deliveries. */
export interface EventDetail extends EventSummary {
  payload: Record<string, unknown>;
  deliveries: Delivery[];
}

/** One try of a delivery, credentials redacted. */
export interface Attempt {
  delivery_id: string;
  event_id: string;
  rule_id: string;
  /** 1 for the first attempt. */
  attempt: number;
  started_at: string;
  duration_ms: number;
  /** HTTP status of the last response, when there was one. */
  status: number | null;
  outcome: Outcome;
  retryable: boolean;
  message: string;
  exchanges: ExchangeSummary[];
  notes: string[];
}

/** A page of a listing, Meshes style. */
export interface Page<T> {
  count: number;
  limit: number;
  next_cursor: string | null;
  records: T[];
}

/** Filters of `engine.events.list`. */
export interface EventListQuery {
  /** Strongly recommended: without it every workspace is listed (for a single-tenant app or an admin). */
  workspace?: string | string[];
  status?: EventStatus | EventStatus[];
  event?: string;
  resource?: string;
  resource_id?: string;
  /** Events created at or after (ISO string or epoch ms). */
  since?: string | number;
  /** Events created before (ISO string or epoch ms). */
  until?: string | number;
  /** 1–500, default 50. */
  limit?: number;
  cursor?: string | null;
}

/** Filters of `engine.replay`: deliveries to send again. */
export interface ReplayQuery {
  workspace: string;
  /** Default `"failed"`; only terminal statuses (`failed`, `canceled`, `completed`) can be replayed. */
  status?: "failed" | "canceled" | "completed" | Array<"failed" | "canceled" | "completed">;
  connection?: string;
  rule?: string;
  event?: string;
  /** The last attempt's outcome, e.g. `"auth_failed"` after fixing a token. */
  outcome?: Outcome | Outcome[];
  /** Events created at or after (ISO string or epoch ms). */
  since?: string | number;
  /** Events created before (ISO string or epoch ms). */
  until?: string | number;
}

// ─── Store ─────────────────────────────────────────────────────────────────────────────────

/** An event as stored. Times are epoch milliseconds. */
export interface EventRow {
  workspace: string;
  id: string;
  event: string;
  resource: string | null;
  resource_id: string | null;
  payload: Record<string, unknown>;
  created_by: string;
  created_at: number;
  status: EventStatus;
  total_rules: number;
  completed_count: number;
  failed_count: number;
  /** Insertion order, assigned by the store; cursors are built on it. */
  seq?: number;
}

/** A delivery as stored. Times are epoch milliseconds. */
export interface DeliveryRow {
  id: string;
  workspace: string;
  event_id: string;
  rule_id: string;
  connection: string;
  action: string;
  integration_type: string;
  event: string;
  status: DeliveryStatus;
  attempt_count: number;
  /** `attempt_count` when the current round began (a manual retry or replay starts a new round). */
  round_start: number;
  next_attempt_at: number | null;
  last_error: string | null;
  last_outcome: Outcome | null;
  idempotency_key: string;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

/** An attempt as stored. */
export interface AttemptRow {
  delivery_id: string;
  workspace: string;
  event_id: string;
  rule_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status: number | null;
  outcome: Outcome;
  retryable: boolean;
  message: string;
  exchanges: ExchangeSummary[];
  notes: string[];
}

/** An event and its deliveries, inserted together. */
export interface NewEvent {
  event: EventRow;
  deliveries: DeliveryRow[];
  /** `event.payload` as JSON, when the engine has serialized it already (durable stores): write this rather than serialize again. */
  payloadJson?: string;
}

/** What `insertEvents` did with one event: stored it, or found the same id already in the workspace. */
export type InsertResult = { inserted: true; event: EventRow } | { inserted: false; event: EventRow };

/** A delivery with the event it belongs to. */
export interface DeliveryWithEvent {
  delivery: DeliveryRow;
  event: EventRow;
}

/** Filters of `Store.listEvents`, times resolved to epoch ms. */
export interface StoreEventQuery {
  workspaces?: string[];
  statuses?: EventStatus[];
  event?: string;
  resource?: string;
  resource_id?: string;
  since?: number;
  until?: number;
  limit: number;
  /** Only events with `seq` below this (newest first). */
  beforeSeq?: number;
}

/** Filters of `Store.findDeliveries`, times resolved to epoch ms (on the event's `created_at`). */
export interface StoreDeliveryQuery {
  workspace: string;
  statuses: DeliveryStatus[];
  connection?: string;
  rule?: string;
  event?: string;
  outcomes?: Outcome[];
  since?: number;
  until?: number;
}

/** A position in (event `seq`, delivery id) order: after the whole event `seq`, or after its delivery `id`. */
export interface DeliveryCursor {
  seq: number;
  id?: string;
}

/** What `Store.openDeliveryPage` reads. */
export interface OpenDeliveryPageQuery {
  /** Only deliveries after this position; from the first open delivery when left out. */
  after?: DeliveryCursor;
  /** Only deliveries of events with `seq` at or below this. */
  throughSeq?: number;
  limit: number;
}

/** A connection the engine stopped sending to, e.g. after a webhook receiver answered 410. */
export interface ConnectionStatusRow {
  connection: string;
  disabled_at: number;
  reason: string;
}

/**
 * Where the engine keeps events, deliveries and attempts. Every method is async so a networked
 * store (Postgres) can implement it; `memoryStore()` and `sqliteStore()` ship here.
 *
 * Writes are batched by the engine (group commit): `insertEvents` gets a whole ingest call,
 * `write` every delivery change and attempt since the last flush. Each call must be atomic and
 * durable (for a durable store) when its promise resolves.
 */
export interface Store {
  readonly name: string;
  /** True when a commit survives the process (SQLite, Postgres); the engine then writes each attempt's start ahead. */
  readonly durable?: boolean;
  /** Creates or migrates the schema. Called by `engine.start()`. */
  open(): Promise<void>;
  close(): Promise<void>;
  /**
   * Stores each event with its deliveries unless an event with the same id exists in the same
   * workspace, in which case nothing is written and the stored event is returned.
   */
  insertEvents(items: NewEvent[], options?: InsertOptions): Promise<InsertResult[]>;
  /**
   * Applies delivery changes (full rows, the last one wins) and appends attempts; updates the
   * events' status. The engine keeps mutating the row objects after the call returns, so a
   * store must read (copy or serialize) them before its first `await`.
   */
  write(batch: WriteBatch): Promise<void | WriteResult>;
  /** Every `pending`, `processing` and `retrying` delivery, with its event: what a restart resumes. */
  openDeliveries(): Promise<DeliveryWithEvent[]>;
  /**
   * Optional: a page of open deliveries with their events, in (event `seq`, delivery id) order.
   * With it (and `openDeliveryCount`), a durable store lets the engine keep only a window of open
   * deliveries in memory (`maxOpenInMemory`) and read the rest page by page; without it the
   * engine loads every open delivery at start. Such a store sees `insertEvents` called again
   * before the last call answered, and must commit and answer the calls in the order they came.
   */
  openDeliveryPage?(query: OpenDeliveryPageQuery): Promise<DeliveryWithEvent[]>;
  /** Optional, with `openDeliveryPage`: how many deliveries are open, and the highest event `seq` stored (0 when none). */
  openDeliveryCount?(): Promise<{ open: number; lastSeq: number }>;
  /** Open deliveries due at or before `time`, oldest due first; for workers that poll. */
  dueDeliveries(time: number, limit: number): Promise<DeliveryWithEvent[]>;
  /** Events with this id (one per workspace at most); only the given workspace's when set. */
  getEvents(id: string, workspace?: string): Promise<EventRow[]>;
  listEvents(query: StoreEventQuery): Promise<EventRow[]>;
  eventDeliveries(workspace: string, eventId: string): Promise<DeliveryRow[]>;
  getDelivery(workspace: string, eventId: string, ruleId: string): Promise<DeliveryWithEvent | undefined>;
  listAttempts(deliveryId: string): Promise<AttemptRow[]>;
  findDeliveries(query: StoreDeliveryQuery): Promise<DeliveryWithEvent[]>;
  connectionStatuses(): Promise<ConnectionStatusRow[]>;
  setConnectionStatus(connection: string, status: ConnectionStatusRow | null): Promise<void>;
  /**
   * A delivery queue shared by every engine on this store (e.g. `postgresStore`). When present,
   * engines do not keep open deliveries in memory: they claim due ones under a lease (claim mode).
   */
  readonly queue?: DeliveryQueue;
}

/** Options of `Store.insertEvents`. */
export interface InsertOptions {
  /**
   * The caller's open transaction (for `postgresStore`, a `pg` client inside `BEGIN`): the
   * events and deliveries are written in it, so they exist if and only if it commits (outbox).
   */
  tx?: unknown;
}

/** The changes of one engine flush. */
export interface WriteBatch {
  deliveries: DeliveryRow[];
  attempts: AttemptRow[];
  /** Claim mode: the writing engine; only deliveries it holds are changed. */
  worker?: string;
  /** Claim mode: deliveries the engine goes on holding; every other written delivery is released to the queue. */
  held?: { has(id: string): boolean };
}

/** What `Store.write` answers in claim mode. */
export interface WriteResult {
  /** Deliveries the engine no longer held (its lease ran out and another engine took them); left unchanged. */
  lost: string[];
}

/** What a claiming engine asks the queue for. */
export interface ClaimRequest {
  worker: string;
  /** Most deliveries in all. */
  limit: number;
  /** How long they are the worker's unless renewed, ms. */
  leaseMs: number;
  /** Most deliveries per connection; connections not listed get none. */
  capacity: ReadonlyMap<string, number>;
}

/**
 * A claimed delivery, its attempt already started in the store (`processing`, `attempt_count`
 * counting it). `interrupted`: it was `processing` under a holder whose lease ran out, so attempt
 * `attempt_count - 1` never reported back.
 */
export interface ClaimedDelivery extends DeliveryWithEvent {
  interrupted: boolean;
}

/** Deliveries claimed, with their events, and when the next open delivery becomes due (epoch ms). */
export interface ClaimResult {
  deliveries: ClaimedDelivery[];
  nextAt: number | null;
}

/** What a lease renewal found: deliveries still held, and those of them someone asked to cancel. */
export interface RenewResult {
  held: string[];
  canceled: string[];
}

/** A connection's circuit breaker as the store keeps it for every engine. */
export interface SharedBreakerState {
  connection: string;
  state: "closed" | "open" | "half_open";
  failures: number;
  /** When an open circuit lets a probe through (a half-open one: when its probe's lease ends), epoch ms. */
  probeAt: number;
}

/** A breaker policy as `SharedLimits.record` applies it. */
export interface SharedBreakerPolicy {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

/** Rate limits and circuit breakers kept by the store, so they hold across processes. */
export interface SharedLimits {
  /** Takes up to `count` request tokens from the bucket; answers how many, and when none, how long until one is back (ms). */
  take(bucket: string, limit: RateLimit, count: number): Promise<{ granted: number; waitMs: number }>;
  /** Holds every engine's requests on the bucket back for `ms` (a vendor's Retry-After). */
  pause(bucket: string, ms: number): Promise<void>;
  /** Records an attempt's effect on the connection's breaker; answers the breaker after it. */
  record(connection: string, failure: boolean, policy: SharedBreakerPolicy, now: number): Promise<SharedBreakerState>;
  /** Lets one engine send the probe of an open circuit whose cool-down is over: true for the one that got it. */
  probe(connection: string, worker: string, now: number, leaseMs: number): Promise<boolean>;
  /** Every breaker that is not closed, or counts failures. */
  breakers(): Promise<SharedBreakerState[]>;
}

/**
 * A delivery queue shared by engines in any number of processes: each due delivery is claimed by
 * one engine under a lease it renews; an expired lease makes the delivery claimable again.
 */
export interface DeliveryQueue {
  /**
   * Claims due deliveries, oldest due first, leases them to `worker` and starts an attempt on
   * each (`processing`, `attempt_count + 1`): the claim is the attempt's write-ahead, so ask only
   * for what can start now.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  renew(worker: string, ids: readonly string[], leaseMs: number): Promise<RenewResult>;
  /** Gives held deliveries back unchanged (engine stop). */
  release(worker: string, ids: readonly string[]): Promise<void>;
  /**
   * Starts a fresh round for deliveries in one of `from` statuses that nobody holds (manual
   * retry, replay): `pending`, due now. Answers the deliveries changed.
   */
  requeue(ids: readonly string[], from: readonly DeliveryStatus[], now: number): Promise<DeliveryRow[]>;
  /** Cancels an open delivery: at once when nobody holds it, else through its holder. Undefined when it is not open. */
  cancel(id: string, now: number): Promise<DeliveryRow | undefined>;
  /** Calls `listener` when deliveries may have become due (LISTEN/NOTIFY); answers the unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** Rate limits and breakers shared by every engine, when the store keeps them. */
  readonly limits?: SharedLimits;
}

// ─── Engine ────────────────────────────────────────────────────────────────────────────────

/** Where the engine reports trouble that is not tied to one call (a failed store write). */
export interface EngineLogger {
  warn(message: string, detail?: unknown): void;
  error(message: string, detail?: unknown): void;
}

/** Options of `engine.drain`. */
export interface DrainOptions {
  /**
   * With a test clock: whenever only timers are left (retry back-off, rate-limit waits, an open
   * circuit), move the clock to the next timer and go on, until no delivery is open.
   */
  advanceClock?: boolean;
  /** With `advanceClock`: never move the clock past this time (epoch ms). */
  until?: number;
  /** Give up after this much real time, ms; rejects with code `drain_timeout`. */
  timeoutMs?: number;
}

/** The engine's events. */
export interface EngineEvents {
  /** A delivery changed state after an attempt, a retry, a cancel or a replay. */
  delivery: (delivery: Delivery) => void;
  /** A background failure, such as a store write that will be retried. */
  error: (error: Error) => void;
}

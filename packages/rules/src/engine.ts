import {
  createMemoryState,
  renderTemplates,
  runAction,
  type AttemptResult,
  type ConnectionInfo,
  type ConnectionState,
  type DeliveryEvent,
  type Destination,
  type RateLimit,
  type RateLimitFeedback,
  type RequestHook,
  type SandboxConnection,
  type Simulator,
} from "@meshwork/destination-kit";
import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { isTestClock, systemClock } from "./clock.js";
import { compileCondition, type Predicate } from "./condition.js";
import { resolveConfig } from "./config.js";
import { MeshworkRulesError } from "./errors.js";
import { DueHeap } from "./heap.js";
import { uuidv7 } from "./ids.js";
import { Lane, Where, type Queued } from "./lane.js";
import { resolveBreaker, type BreakerSignal, type RateWindow, type ResolvedBreaker } from "./limits.js";
import { compileMapping, type MappingOutcome } from "./mapping.js";
import { nextDelay, resolveRetry, jittered, type ResolvedRetry } from "./retry.js";
import { SharedBucket } from "./shared-bucket.js";
import { memoryStore } from "./stores/memory.js";
import { OPEN_STATUSES, summarizeDeliveries } from "./stores/shared.js";
import type {
  Attempt,
  AttemptRow,
  BreakerOptions,
  Clock,
  ConnectionConfig,
  Delivery,
  ClaimedDelivery,
  DeliveryCursor,
  DeliveryQueue,
  DeliveryRow,
  DeliveryWithEvent,
  DrainOptions,
  EngineEvents,
  EngineLogger,
  EventDetail,
  EventListQuery,
  EventRow,
  EventStatus,
  EventSummary,
  IngestEvent,
  IngestResult,
  InsertResult,
  MeshworkConfig,
  MeshworkConfigInput,
  NewEvent,
  Page,
  ReplayQuery,
  RetryOptions,
  RuleConfig,
  SharedBreakerState,
  SharedLimits,
  Store,
  StoredEvent,
  TestClock,
} from "./types.js";

/** Options of `createEngine`. */
export interface EngineOptions {
  /** A config from `defineConfig` (or its input, checked the same way). */
  config: MeshworkConfig | MeshworkConfigInput;
  /** One destination per connection type used, e.g. `[hubspot(), slack()]`. */
  destinations: readonly Destination[];
  /** Default `memoryStore()`. */
  store?: Store;
  /** Default: the wall clock. Pass `createTestClock()` in tests. */
  clock?: Clock;
  /** Source of jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Retry policy of every connection (a connection's own `retry` wins). */
  retry?: RetryOptions;
  /** Circuit breaker of every connection (a connection's own `breaker` wins). */
  breaker?: BreakerOptions;
  /** Deliveries in flight per connection when neither the connection nor the destination says. Default 10. */
  concurrency?: number;
  /** An attempt still running after this long (wall time) is recorded as a `timeout`. Default 60 000. */
  attemptTimeoutMs?: number;
  /** How long `stop()` waits for attempts in flight before aborting them, ms. Default 10 000. */
  stopTimeoutMs?: number;
  /**
   * Commit each attempt's start (`processing`, the attempt number) before its request goes out,
   * so a crash always leaves the interrupted attempt on record and the restart sends it again
   * under the same idempotency key. Costs one group commit of latency per attempt.
   * Default: true for a durable store (`store.durable`), false for `memoryStore()`.
   */
  writeAhead?: boolean;
  /**
   * With a store that has a shared queue (`postgresStore`), what this engine does: `"both"`
   * (default) stores events and claims due deliveries; `"worker"` claims deliveries (e.g.
   * `meshwork worker`); `"ingest"` only stores events, for workers elsewhere to deliver.
   */
  role?: "ingest" | "worker" | "both";
  /** Shared queue: this engine's name on the leases it takes. Default `<host>:<pid>:<random>`. */
  workerId?: string;
  /** Shared queue: how long a claimed delivery stays this engine's without renewal, ms. Default 30 000, renewed every third of it. */
  leaseMs?: number;
  /** Shared queue: look for due deliveries at least this often, ms, besides the store's wake-ups. Default 1000. */
  pollIntervalMs?: number;
  /** Shared queue: most deliveries claimed in one round trip. Default 256. */
  claimBatch?: number;
  /**
   * Most open deliveries kept in memory, with a durable store that reads them back page by page
   * (`sqliteStore`). Past it, ingested events and their deliveries are still stored, but the
   * deliveries wait in the store ("spilled") until the window has drained to half; then the
   * next page is read, oldest event first. A restart reads only the first page. Memory stays
   * flat however far ingest outruns delivery. `stats()` reports `inMemory` and `spilled`.
   * Default 10 000; `Infinity` keeps every open delivery in memory. It does not apply to
   * `memoryStore()` (which holds everything in memory anyway) nor to a shared queue.
   */
  maxOpenInMemory?: number;
  logger?: EngineLogger;
}

/** The second argument of `engine.ingest`. */
export interface IngestContext {
  publishableKey: string;
  /**
   * Your open database transaction (with `postgresStore`: a `pg` client inside `BEGIN`). The
   * events and their deliveries are written in it, so they exist, and are delivered, if and only
   * if it commits (the outbox pattern). Needs a store with a shared queue.
   */
  tx?: unknown;
}

/** Counters for health checks and metrics. */
export interface EngineStats {
  /** Deliveries not finished: `inMemory + spilled`. */
  open: number;
  /** Open deliveries held in memory (at most `maxOpenInMemory`, except right after a retry or a replay). */
  inMemory: number;
  /** Open deliveries waiting in the store for room in the window (0 without a window). */
  spilled: number;
  inFlight: number;
  queued: number;
  scheduled: number;
  connections: Array<{ id: string; inFlight: number; queued: number; circuit: "closed" | "open" | "half_open"; disabled: boolean }>;
}

/** The rules engine: see `createEngine`. */
export interface Engine {
  readonly config: MeshworkConfig;
  /** Opens the store and resumes every open delivery it holds. */
  start(): Promise<void>;
  /** Stops taking events, lets attempts in flight finish (then aborts them), writes everything, closes the store. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Stores events and their deliveries, then answers Meshes' bulk body. Throws a
   * `MeshworkRulesError` (`unknown_publishable_key`, `engine_not_started`, `store_error`…) for
   * the whole call; a malformed event only fails its own record.
   */
  ingest(events: readonly IngestEvent[], context: IngestContext): Promise<IngestResult>;
  /**
   * Resolves when no delivery is pending or processing and none is due: every delivery is
   * finished, or waiting for a retry or an open circuit's probe (`next_attempt_at` in the future),
   * and every write is committed. Waits for rate-limit and concurrency waits. See `DrainOptions`.
   */
  drain(options?: DrainOptions): Promise<void>;
  events: {
    /** Newest first, with cursor pagination. */
    list(query?: EventListQuery): Promise<Page<EventSummary>>;
    /** The event with its payload and deliveries; `workspace` is needed only when two workspaces used the same id. */
    get(eventId: string, options?: { workspace?: string }): Promise<EventDetail | undefined>;
    /** Cancels every open delivery of the event. */
    cancel(eventId: string, options?: { workspace?: string }): Promise<Delivery[]>;
  };
  attempts: {
    list(eventId: string, ruleId: string): Promise<Attempt[]>;
  };
  /** Runs a delivery again now, with a fresh retry schedule (failed, canceled, or waiting for a retry). */
  retry(eventId: string, ruleId: string): Promise<Delivery>;
  /** Stops a delivery: no more attempts; one in flight finishes and is recorded. */
  cancel(eventId: string, ruleId: string): Promise<Delivery>;
  /** Sends matching finished deliveries again, each with a fresh retry schedule; `dryRun` only counts them. */
  replay(query: ReplayQuery, options?: { dryRun?: boolean }): Promise<{ count: number }>;
  on<K extends keyof EngineEvents>(name: K, listener: EngineEvents[K]): () => void;
  off<K extends keyof EngineEvents>(name: K, listener: EngineEvents[K]): void;
  /** The simulator behind a sandbox connection (its requests, snapshot and fault injection). */
  sandbox<TSnapshot = unknown>(connectionId: string): Simulator<TSnapshot>;
  /** The workspace a publishable key names, if any. */
  workspaceOf(publishableKey: string): string | undefined;
  /** Sends to a connection again after the destination asked to stop (`disableConnection`). */
  enableConnection(connectionId: string): Promise<void>;
  stats(): EngineStats;
}

interface Conn {
  config: ConnectionConfig;
  destination: Destination;
  info: ConnectionInfo;
  state: ConnectionState;
  simulator: Simulator | undefined;
  fetch: typeof fetch | undefined;
  retry: ResolvedRetry;
  lane: Lane<Live>;
  disabled: { at: number; reason: string } | undefined;
  onRateLimit: (feedback: RateLimitFeedback) => void;
  /** Shared queue: the connection's token bucket in the store (instead of the lane's window). */
  bucket: SharedBucket | undefined;
  breakerPolicy: ResolvedBreaker;
  /** Shared breaker: failures the store counts; a report of the outcome is in flight. */
  sharedFailures: number;
  reporting: boolean;
}

interface CompiledRule {
  config: RuleConfig;
  conn: Conn;
  action: string;
  metadata: Record<string, unknown>;
  resource: string | null;
  resourceId: string | null;
  predicate: Predicate | undefined;
  mapping: ((payload: Record<string, unknown>) => MappingOutcome) | undefined;
  keyLimit: (RateLimit & { key: (metadata: any) => string }) | undefined;
}

/** Something whose row must be written at the next flush. */
interface Dirtyable {
  row: DeliveryRow;
  dirty: boolean;
}

interface Live extends Queued, Dirtyable {
  event: DeliveryEvent;
  rule: CompiledRule;
  token: number;
  startedWall: number;
  cancelRequested: boolean;
  /** Shared queue: the claim already started its attempt in the store; the status it had before. */
  claimed?: "pending" | "retrying";
}

/** Most open deliveries read back from the store at once (see `loadPages`). */
const PAGE_SIZE = 500;
/** Committed starts launched per turn of the event loop, at least (see `launchCommitted`). */
const LAUNCH_SLICE = 32;
/** Turns of the event loop the starts waiting to launch are spread over, at most. */
const LAUNCH_TURNS = 8;
const TERMINAL_REPLAYABLE = ["failed", "canceled", "completed"] as const;
const iso = (ms: number) => new Date(ms).toISOString();
const NONE: never[] = Object.freeze([]) as never[];
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const noop = () => {};

function maskKey(key: string): string {
  return key.length > 14 ? `${key.slice(0, 12)}…` : key;
}

function toTime(value: string | number | undefined, field: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = typeof value === "number" ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new MeshworkRulesError("invalid_request", `${field}: ${JSON.stringify(value)} is not a date (ISO 8601 or epoch ms)`);
  return ms;
}

function asArray<T>(value: T | T[] | undefined): T[] | undefined {
  return value === undefined ? undefined : Array.isArray(value) ? value : [value];
}

function publicRecord(row: EventRow, createdAt: string = iso(row.created_at)): StoredEvent {
  return {
    id: row.id,
    type: "event",
    event: row.event,
    workspace: row.workspace,
    created_by: row.created_by,
    created_at: createdAt,
    resource: row.resource,
    resource_id: row.resource_id,
  };
}

function publicSummary(row: EventRow): EventSummary {
  return {
    ...publicRecord(row),
    status: row.status,
    total_rules: row.total_rules,
    completed_count: row.completed_count,
    failed_count: row.failed_count,
  };
}

function publicDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    type: "rule",
    workspace: row.workspace,
    event_id: row.event_id,
    event: row.event,
    rule_id: row.rule_id,
    connection: row.connection,
    integration_type: row.integration_type,
    action: row.action,
    status: row.status,
    attempt_count: row.attempt_count,
    next_attempt_at: isoOrNull(row.next_attempt_at),
    last_error: row.last_error,
    last_outcome: row.last_outcome,
    idempotency_key: row.idempotency_key,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    completed_at: isoOrNull(row.completed_at),
  };
}

function publicAttempt(row: AttemptRow): Attempt {
  return {
    delivery_id: row.delivery_id,
    event_id: row.event_id,
    rule_id: row.rule_id,
    attempt: row.attempt,
    started_at: iso(row.started_at),
    duration_ms: row.duration_ms,
    status: row.status,
    outcome: row.outcome,
    retryable: row.retryable,
    message: row.message,
    exchanges: row.exchanges,
    notes: row.notes,
  };
}

function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString("base64url");
}

function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, "base64url").toString();
  const seq = text.startsWith("s:") ? Number(text.slice(2)) : NaN;
  if (!Number.isInteger(seq) || seq < 0) throw new MeshworkRulesError("invalid_cursor", `cursor ${JSON.stringify(cursor)} is not one this engine issued`);
  return seq;
}

/** The payload as JSON (what a durable store writes), or the problem that stops it: a cycle, a BigInt. */
function payloadJson(payload: unknown): string | { field: string; message: string } {
  try {
    return JSON.stringify(payload);
  } catch (error) {
    return { field: "payload", message: `must be JSON-serializable (${error instanceof Error ? error.message.split("\n")[0] : String(error)})` };
  }
}

/** Checks one record of an ingest call; answers the failed-record message or undefined. */
function checkEvent(raw: unknown, workspace: string): { field: string; message: string } | undefined {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return { field: "(event)", message: "must be an event object { event, payload, resource?, resource_id?, id? }" };
  }
  const e = raw as Record<string, unknown>;
  if (typeof e.event !== "string" || e.event.trim() === "") return { field: "event", message: e.event === undefined ? "is required (the event name, e.g. \"user.signup\")" : "must be a non-empty string" };
  if (e.event.length > 256) return { field: "event", message: "must be at most 256 characters" };
  const payload = e.payload;
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    return { field: "payload", message: payload === undefined ? "is required (an object)" : `must be an object, got ${payload === null ? "null" : Array.isArray(payload) ? "an array" : typeof payload}` };
  }
  if (e.id !== undefined && (typeof e.id !== "string" || e.id === "" || e.id.length > 256)) return { field: "id", message: "must be a non-empty string of at most 256 characters" };
  for (const field of ["resource", "resource_id"] as const) {
    const value = e[field];
    if (value !== undefined && value !== null && (typeof value !== "string" || value === "" || value.length > 256)) {
      return { field, message: "must be a non-empty string of at most 256 characters, or left out" };
    }
  }
  if (e.workspace !== undefined && e.workspace !== workspace) return { field: "workspace", message: "does not match the workspace of the publishable key" };
  return undefined;
}

/**
 * The controller whose signal every attempt gets (aborted by `stop()`). Each request in flight
 * listens to it for as long as it runs, so the usual limit of 10 listeners does not apply.
 */
function attemptsController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** What a destination's `sandbox()` is told about the connection it simulates. */
function sandboxConnection(config: { id: string; workspace: string; type: string; credentials?: unknown }, destination: Destination): SandboxConnection {
  const parsed = destination.credentials.safeParse(config.credentials);
  return { id: config.id, workspace: config.workspace, type: config.type, mode: "sandbox", credentials: parsed.success ? parsed.data : config.credentials };
}

const INTERRUPTED =
  "attempt interrupted: the engine stopped (crash, kill or abort) while it was in flight; it is tried again with the same idempotency key";

/** The record of an attempt that was in flight when its engine died: it is tried again, this one stays on record. */
function interruptedAttempt(row: DeliveryRow, attempt: number, now: number): AttemptRow {
  return {
    delivery_id: row.id,
    workspace: row.workspace,
    event_id: row.event_id,
    rule_id: row.rule_id,
    attempt,
    started_at: row.updated_at,
    duration_ms: Math.max(0, now - row.updated_at),
    status: null,
    outcome: "internal_error",
    retryable: true,
    message: INTERRUPTED,
    exchanges: [],
    notes: [],
  };
}

/** Starts a fresh round of attempts on a row: `pending`, due now. */
function freshRound(row: DeliveryRow, now: number): void {
  row.status = "pending";
  row.round_start = row.attempt_count;
  row.next_attempt_at = null;
  row.completed_at = null;
  row.updated_at = now;
}

function completedError(row: DeliveryRow, ruleId: string): MeshworkRulesError {
  return new MeshworkRulesError(
    "invalid_state",
    `the delivery is already completed; to send it again use engine.replay({ workspace: "${row.workspace}", status: "completed", rule: "${ruleId}", ... })`,
  );
}

/**
 * Creates the rules engine: it matches ingested events against each workspace's rules and
 * delivers them to the connections in parallel, with per-connection concurrency, rate limits
 * and a circuit breaker, retries on a schedule, and history in the store. The configuration is
 * checked against the destinations here; a problem throws a `MeshworkConfigError`.
 *
 * @example
 * const engine = createEngine({
 *   config: defineConfig({ workspaces, connections, rules }),
 *   destinations: [hubspot(), slack()],
 *   store: sqliteStore({ path: "meshwork.db" }),
 * });
 * await engine.start();
 * await engine.ingest([{ event: "user.signup", payload: { email: "alex@northstar.io" } }], { publishableKey });
 * await engine.drain();
 * await engine.stop();
 */
export function createEngine(options: EngineOptions): Engine {
  return new RulesEngine(options);
}

class RulesEngine implements Engine {
  readonly config: MeshworkConfig;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly logger: EngineLogger;
  private readonly attemptTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly writeAhead: boolean;
  /** Record `processing` at each attempt's start (durable stores, or write-ahead). */
  private readonly recordStarts: boolean;
  /** Attempts whose start is waiting for its commit (write-ahead). */
  private awaitingCommit: Live[] = [];
  /** Attempts whose start is committed, launched `launchSliceSize` per turn from `launchHead`. */
  private toLaunch: Live[] = [];
  private launchHead = 0;
  private launchSliceSize = LAUNCH_SLICE;
  private readonly keys = new Map<string, string>();
  private readonly conns = new Map<string, Conn>();
  private readonly rules = new Map<string, CompiledRule>();
  private readonly index = new Map<string, Map<string, CompiledRule[]>>();
  private readonly open = new Map<string, Live>();
  private readonly heap = new DueHeap<Live>();
  private heapTimer: unknown = undefined;
  private heapTimerAt = Infinity;
  private readonly running = new Set<Live>();
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private abort = attemptsController();
  private state: "new" | "starting" | "running" | "stopping" | "stopped" = "new";
  private starting: Promise<void> | undefined;
  private inFlight = 0;
  private ingesting = 0;
  private dirtyList: Dirtyable[] = [];
  private insertQueue: Array<{ items: NewEvent[]; committed: (results: InsertResult[]) => void; resolve: () => void; reject: (error: unknown) => void }> = [];
  private attemptsToWrite: AttemptRow[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;
  private flushRetry: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly listeners: { [K in keyof EngineEvents]: Set<EngineEvents[K]> } = { delivery: new Set(), error: new Set() };
  private readonly flushNow = () => void this.flush();
  /** Shared queue (claim mode): the store's queue and limits, and this engine's claiming state. */
  private readonly queue: DeliveryQueue | undefined;
  private readonly limits: SharedLimits | undefined;
  private readonly claiming: boolean;
  private readonly workerId: string;
  private readonly leaseMs: number;
  private readonly pollIntervalMs: number;
  private readonly claimBatch: number;
  private claimRunning = false;
  private claimAgain = false;
  private claimTimer: unknown = undefined;
  /** The last claim filled its batch: more is due, claim again as room frees up. */
  private backlog = false;
  /** When the queue's next delivery is due, as the last claim saw it. */
  private dueAt: number | null = null;
  private lastSync = 0;
  private unsubscribe: (() => void) | undefined;
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private renewing = false;
  /** Attempts waiting in `beforeRequest` for a rate-limit token (on the engine's clock). */
  private throttled = 0;
  /** The window (`maxOpenInMemory`) when the store pages open deliveries; else every open delivery is in memory. */
  private readonly window: number | undefined;
  /** A page is read once no more than this many deliveries are in memory. */
  private readonly lowWater: number;
  /** Open deliveries in the store and not in memory. */
  private spilled = 0;
  /** Some open deliveries may be in the store only: new ones wait there too, behind them. */
  private spillMode = false;
  /** Bumped by every spill: a page that reached the end leaves spill mode only if none happened while it was read. */
  private spillGen = 0;
  /**
   * Every delivery that was ever in memory sits at or before this position (event seq, delivery
   * id), every spilled one after it: a page starts here, so it never sees a delivery the engine
   * has (or just finished, its write not yet committed).
   */
  private cursor: DeliveryCursor | undefined;
  /** Highest event seq admitted or spilled: pages stop there, so they never see an event whose ingest is still deciding. */
  private decidedSeq = 0;
  private loading = false;
  private loadRetry: ReturnType<typeof setTimeout> | undefined;
  /** Page reads and changes to spilled rows run one at a time, so the cursor does not move under them. */
  private windowLock: Promise<unknown> = Promise.resolve();

  constructor(options: EngineOptions) {
    this.config = resolveConfig(options.config, options.destinations);
    this.store = options.store ?? memoryStore();
    this.clock = options.clock ?? systemClock;
    const clock = this.clock;
    this.now = () => clock.now();
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? { warn: (m, d) => console.warn(`[meshwork] ${m}`, d ?? ""), error: (m, d) => console.error(`[meshwork] ${m}`, d ?? "") };
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 60_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.writeAhead = options.writeAhead ?? this.store.durable === true;
    this.recordStarts = this.writeAhead || this.store.durable === true;
    this.queue = this.store.queue;
    this.limits = this.queue?.limits;
    this.claiming = this.queue !== undefined && options.role !== "ingest";
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
    this.leaseMs = Math.max(100, options.leaseMs ?? 30_000);
    this.pollIntervalMs = Math.max(10, options.pollIntervalMs ?? 1000);
    this.claimBatch = Math.max(1, options.claimBatch ?? 256);
    const windowSize = options.maxOpenInMemory ?? 10_000;
    if (!(windowSize >= 1)) throw new MeshworkRulesError("invalid_request", `maxOpenInMemory: must be at least 1 (or Infinity), got ${options.maxOpenInMemory}`);
    const pages = !this.queue && this.store.durable === true && typeof this.store.openDeliveryPage === "function" && typeof this.store.openDeliveryCount === "function";
    this.window = pages && Number.isFinite(windowSize) ? Math.floor(windowSize) : undefined;
    this.lowWater = Math.floor((this.window ?? 0) / 2);

    const destinations = new Map(options.destinations.map((d) => [d.type, d]));
    for (const workspace of this.config.workspaces) for (const key of workspace.publishableKeys) this.keys.set(key, workspace.id);

    for (const config of this.config.connections) {
      const destination = destinations.get(config.type)!;
      const simulator = config.mode === "sandbox" ? destination.sandbox(sandboxConnection(config, destination)) : undefined;
      const breaker = resolveBreaker(options.breaker, config.breaker);
      const retry = resolveRetry(options.retry, config.retry);
      const rateLimit = config.rateLimit ?? destination.rateLimit;
      const limits = this.limits;
      const lane: Lane<Live> = new Lane<Live>(
        config.id,
        config.concurrency ?? destination.concurrency ?? options.concurrency ?? 10,
        // With shared limits the budget is the store's bucket, taken per request (see requestGate).
        limits ? undefined : rateLimit,
        breaker,
        (live) => this.keyOf(live),
      );
      lane.breaker.external = limits !== undefined && breaker.failureThreshold > 0;
      const bucket = limits && rateLimit ? new SharedBucket(limits, config.id, rateLimit, this.clock, (error) => this.reportError(error)) : undefined;
      const conn: Conn = {
        config,
        destination,
        info: { id: config.id, workspace: config.workspace, type: config.type, mode: config.mode },
        state: createMemoryState(),
        simulator,
        fetch: simulator?.fetch,
        retry,
        lane,
        disabled: undefined,
        onRateLimit: (feedback) => {
          if (feedback.remaining !== undefined && feedback.remaining <= 0 && feedback.resetAt !== undefined) {
            const now = this.now();
            lane.pausedUntil = Math.max(lane.pausedUntil, Math.min(feedback.resetAt, now + retry.maxRetryAfterMs));
            if (bucket) this.limits!.pause(bucket.bucket, lane.pausedUntil - now).catch((error: unknown) => this.reportError(error));
          }
        },
        bucket,
        breakerPolicy: breaker,
        sharedFailures: 0,
        reporting: false,
      };
      this.conns.set(config.id, conn);
    }

    for (const config of this.config.rules) {
      const conn = this.conns.get(config.connection)!;
      const { action, ...metadata } = config.metadata;
      const definition = conn.destination.actions[action];
      const compiled: CompiledRule = {
        config,
        conn,
        action,
        metadata,
        resource: config.resource ?? null,
        resourceId: config.resource_id ?? null,
        predicate: config.when ? compileCondition(config.when) : undefined,
        mapping: config.mapping ? compileMapping(config.mapping) : undefined,
        keyLimit: definition?.rateLimit,
      };
      this.rules.set(config.id, compiled);
      if (config.active === false) continue;
      let byEvent = this.index.get(config.workspace);
      if (!byEvent) this.index.set(config.workspace, (byEvent = new Map()));
      const list = byEvent.get(config.event);
      if (list) list.push(compiled);
      else byEvent.set(config.event, [compiled]);
    }
  }

  // ─── lifecycle ───────────────────────────────────────────────────────────────────────────

  start(): Promise<void> {
    if (this.state === "running") return Promise.resolve();
    if (this.state === "starting") return this.starting!;
    if (this.state === "stopping") return Promise.reject(new MeshworkRulesError("engine_stopping", "the engine is stopping; wait for stop() before starting it again", { retryable: true }));
    this.state = "starting";
    this.starting = this.resume().then(
      () => {
        this.state = "running";
        this.starting = undefined;
        this.watchdog = setInterval(() => this.checkTimeouts(), Math.min(1000, Math.max(10, this.attemptTimeoutMs / 4)));
        this.watchdog.unref?.();
        this.armHeapTimer();
        for (const conn of this.conns.values()) this.pump(conn.lane);
        if (this.claiming) this.startClaiming();
        this.kickLoad();
        this.checkIdle();
      },
      (error: unknown) => {
        this.state = "new";
        this.starting = undefined;
        throw error;
      },
    );
    return this.starting;
  }

  private async resume(): Promise<void> {
    if (this.abort.signal.aborted) this.abort = attemptsController();
    await this.store.open();
    for (const status of await this.store.connectionStatuses()) {
      const conn = this.conns.get(status.connection);
      if (conn) conn.disabled = { at: status.disabled_at, reason: status.reason };
    }
    // Shared queue: open deliveries stay in the store until an engine claims them.
    if (this.queue) return;
    if (this.window === undefined) this.adoptOpen(await this.store.openDeliveries());
    else {
      // Only the first page: the rest is read as the window drains.
      const { open, lastSeq } = await this.store.openDeliveryCount!();
      this.spilled = open;
      this.spillMode = open > 0;
      this.decidedSeq = lastSeq;
      this.cursor = undefined;
      this.loading = true;
      try {
        await this.exclusive(() => this.loadPages());
      } finally {
        this.loading = false;
      }
    }
    await this.flush();
  }

  /** Takes open deliveries read from the store (at start, or a page of spilled ones) into the lanes and the retry heap. */
  private adoptOpen(rows: readonly DeliveryWithEvent[]): void {
    const now = this.now();
    const events = new Map<EventRow, DeliveryEvent>();
    const touched = new Set<Lane<Live>>();
    for (const { delivery: row, event } of rows) {
      if (this.open.has(row.id)) continue;
      let ctx = events.get(event);
      if (!ctx) events.set(event, (ctx = this.eventContext(event)));
      const rule = this.rules.get(row.rule_id);
      if (!rule || rule.conn.config.workspace !== row.workspace) {
        row.status = "failed";
        row.last_error = `rule "${row.rule_id}" is no longer in the configuration; the delivery was failed when the engine read it back`;
        row.next_attempt_at = null;
        row.updated_at = now;
        row.completed_at = now;
        this.markDirty({ row, dirty: false });
        continue;
      }
      const live = this.makeLive(row, ctx, rule);
      if (row.status === "processing") {
        // At-least-once: we cannot know whether the destination got it, so it goes again now.
        this.markDirty(live, interruptedAttempt(row, row.attempt_count, now));
        row.status = "retrying";
        row.last_outcome = "internal_error";
        row.last_error = INTERRUPTED;
        row.next_attempt_at = now;
        row.updated_at = now;
      }
      this.open.set(row.id, live);
      const due = row.next_attempt_at ?? now;
      if (due <= now) {
        rule.conn.lane.push(live);
        touched.add(rule.conn.lane);
      } else this.schedule(live, due);
    }
    if (this.state === "running") for (const lane of touched) this.pump(lane);
  }

  // ─── the window: open deliveries beyond it wait in the store ───────────────────────────────

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.windowLock.then(task);
    this.windowLock = run.catch(noop);
    return run;
  }

  /** Is this delivery after the cursor: never in memory, so open in the store means spilled. */
  private beyond(seq: number | undefined, id: string): boolean {
    const cursor = this.cursor;
    if (this.window === undefined || seq === undefined) return false;
    return cursor === undefined || seq > cursor.seq || (seq === cursor.seq && cursor.id !== undefined && id > cursor.id);
  }

  /** Decides where an ingested event's deliveries go: memory (true), or the store behind the spilled ones. */
  private admit(seq: number | undefined, count: number): boolean {
    if (seq === undefined) return true;
    if (seq > this.decidedSeq) this.decidedSeq = seq;
    // Behind the cursor (cannot happen while inserts are decided in seq order): a page would never read it.
    const behind = this.cursor !== undefined && seq <= this.cursor.seq;
    if (behind || (!this.spillMode && this.open.size + count <= this.window!)) {
      if (!behind) this.cursor = { seq };
      return true;
    }
    this.respill(count);
    return false;
  }

  private respill(count: number): void {
    this.spilled += count;
    this.spillGen++;
    this.spillMode = true;
  }

  /** Reads the next page of spilled deliveries once the window has drained to its low-water mark. */
  private kickLoad(): void {
    if (!this.spillMode || this.loading || this.state !== "running" || this.open.size > this.lowWater) return;
    this.loading = true;
    this.exclusive(() => this.loadPages()).then(
      () => {
        this.loading = false;
        // Deliveries that finished while the last page was applied found it still loading.
        this.kickLoad();
        this.checkIdle();
      },
      (error: unknown) => {
        this.loading = false;
        this.reportError(error);
        if (this.state === "running" && !this.loadRetry) {
          this.loadRetry = setTimeout(() => {
            this.loadRetry = undefined;
            this.kickLoad();
          }, 1000);
          this.loadRetry.unref?.();
        }
        this.checkIdle();
      },
    );
  }

  private async loadPages(): Promise<void> {
    // Filled a page at a time with a turn of the event loop between: reading and parsing rows
    // blocks it (a few µs a row), and ingest requests must not wait behind a whole window.
    // Only whole pages: topping the window up with the few deliveries that finished meanwhile
    // would read many small pages, each paying a page's fixed cost (two queries, and a read
    // transaction that finds SQLite's page cache stale after every commit).
    const minRows = Math.min(PAGE_SIZE, this.window! - this.lowWater);
    while (this.spillMode && this.window! - this.open.size >= minRows && (this.state === "running" || this.state === "starting")) {
      const limit = Math.min(PAGE_SIZE, this.window! - this.open.size);
      const generation = this.spillGen;
      const page = await this.store.openDeliveryPage!({ ...(this.cursor && { after: this.cursor }), throughSeq: this.decidedSeq, limit });
      if (this.state !== "running" && this.state !== "starting") return;
      const last = page[page.length - 1];
      if (last) {
        if (last.event.seq === undefined) throw new MeshworkRulesError("store_error", `${this.store.name} store: openDeliveryPage answered an event without seq`);
        this.cursor = { seq: last.event.seq, id: last.delivery.id };
      }
      this.spilled = Math.max(0, this.spilled - page.length);
      this.adoptOpen(page);
      // The end, and nothing spilled while the page was read: whatever comes next can go to memory.
      if (page.length < limit && this.spillGen === generation) {
        this.spillMode = false;
        this.spilled = 0;
      } else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Cancels a spilled delivery in the store (a later page does not read it: it is no longer open). */
  private cancelSpilled(found: DeliveryWithEvent): Promise<Delivery | undefined> {
    return this.exclusive(async () => {
      const live = this.open.get(found.delivery.id);
      if (live) return this.cancelLive(live);
      const fresh = await this.store.getDelivery(found.delivery.workspace, found.delivery.event_id, found.delivery.rule_id);
      if (!fresh || !OPEN_STATUSES.includes(fresh.delivery.status) || !this.beyond(fresh.event.seq, fresh.delivery.id)) return undefined;
      const row = fresh.delivery;
      const now = this.now();
      row.status = "canceled";
      row.next_attempt_at = null;
      row.updated_at = now;
      row.completed_at = now;
      await this.store.write({ deliveries: [row], attempts: [] });
      this.spilled = Math.max(0, this.spilled - 1);
      this.checkIdle();
      return this.announce(row);
    });
  }

  /**
   * Retries a delivery after the cursor: a fresh round written to the store, where it waits its
   * turn with the spilled ones (a finished one is spilled again).
   */
  private retrySpilled(found: DeliveryWithEvent, ruleId: string): Promise<Delivery> {
    return this.exclusive(async () => {
      const live = this.open.get(found.delivery.id);
      if (live) {
        if (live.where !== Where.InFlight) this.restart(live);
        return publicDelivery(live.row);
      }
      const fresh = (await this.store.getDelivery(found.delivery.workspace, found.delivery.event_id, found.delivery.rule_id)) ?? found;
      const row = fresh.delivery;
      if (row.status === "completed") throw completedError(row, ruleId);
      // A page read it (and it finished) while this call waited for the lock.
      if (!this.beyond(fresh.event.seq, row.id)) return publicDelivery(this.revive(row, fresh.event).row);
      this.ruleFor(row);
      // Interrupted by a crash: it is sent again as soon as its page is read.
      if (row.status === "processing") return publicDelivery(row);
      const reopened = !OPEN_STATUSES.includes(row.status);
      freshRound(row, this.now());
      await this.store.write({ deliveries: [row], attempts: [] });
      if (reopened) this.respill(1);
      this.kickLoad();
      return this.announce(row);
    });
  }

  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.state === "starting") await this.starting!.catch(noop);
    if (this.state !== "running") return;
    this.state = "stopping";
    this.stopClaiming();
    if (this.heapTimer !== undefined) this.clock.clearTimeout(this.heapTimer);
    this.heapTimer = undefined;
    this.heapTimerAt = Infinity;
    for (const conn of this.conns.values()) {
      if (conn.lane.wakeTimer !== undefined) this.clock.clearTimeout(conn.lane.wakeTimer);
      conn.lane.wakeTimer = undefined;
      conn.lane.wakeAt = Infinity;
    }
    const timeoutMs = options.timeoutMs ?? this.stopTimeoutMs;
    if (!(await this.waitFor(() => this.inFlight === 0 && this.ingesting === 0, timeoutMs))) {
      this.abort.abort(new MeshworkRulesError("engine_stopped", "the engine stopped while the attempt was in flight", { retryable: true }));
      if (!(await this.waitFor(() => this.inFlight === 0, 1000))) {
        for (const live of [...this.running]) this.complete(live, live.token, this.syntheticResult("timeout", true, INTERRUPTED, live));
      }
    }
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = undefined;
    if (this.loadRetry) clearTimeout(this.loadRetry);
    this.loadRetry = undefined;
    await this.windowLock;
    while (this.flushing || this.dirtyList.length || this.attemptsToWrite.length) {
      if (this.flushing) await this.flushing;
      else await this.flush();
      if (this.flushRetry) break;
    }
    if (this.flushRetry) clearTimeout(this.flushRetry);
    this.flushRetry = undefined;
    if (this.claiming) {
      // Deliveries claimed but not started go back to the queue for the other engines.
      await this.waitFor(() => !this.claimRunning && !this.renewing, 5000);
      for (const live of this.open.values()) {
        if (live.claimed === undefined) continue;
        this.unclaim(live);
        this.markDirty(live);
      }
      const held = [...this.open.keys()];
      this.open.clear();
      while (this.flushing || this.dirtyList.length || this.attemptsToWrite.length) {
        if (this.flushing) await this.flushing.catch(noop);
        else await this.flush().catch(noop);
        if (this.flushRetry) break;
      }
      if (held.length) await this.queue!.release(this.workerId, held).catch((error: unknown) => this.reportError(error));
    }
    this.open.clear();
    this.heap.clear();
    this.running.clear();
    this.toLaunch = [];
    this.launchHead = 0;
    this.spilled = 0;
    this.spillMode = false;
    this.cursor = undefined;
    this.decidedSeq = 0;
    for (const conn of this.conns.values()) conn.lane.reset();
    this.state = "stopped";
    this.checkIdle();
    await this.store.close();
    this.state = "new";
  }

  private waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
    if (condition()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const started = performance.now();
      const tick = setInterval(() => {
        if (condition()) {
          clearInterval(tick);
          resolve(true);
        } else if (performance.now() - started >= timeoutMs) {
          clearInterval(tick);
          resolve(false);
        }
      }, 5);
    });
  }

  // ─── ingest ──────────────────────────────────────────────────────────────────────────────

  async ingest(events: readonly IngestEvent[], context: IngestContext): Promise<IngestResult> {
    if (this.state !== "running") {
      if (this.state === "starting") await this.starting;
      else
        throw new MeshworkRulesError(
          this.state === "new" ? "engine_not_started" : "engine_stopped",
          this.state === "new" ? "the engine is not started; call engine.start() first" : "the engine is stopping and takes no more events",
          { retryable: true },
        );
    }
    const workspace = this.keys.get(context?.publishableKey);
    if (workspace === undefined) {
      throw new MeshworkRulesError(
        "unknown_publishable_key",
        `publishable key "${maskKey(String(context?.publishableKey ?? ""))}" does not belong to any workspace of this engine; check WORKSPACE_PUBLISHABLE_KEY against the config's workspaces[].publishableKeys`,
      );
    }
    if (!Array.isArray(events)) throw new MeshworkRulesError("invalid_request", "events must be an array of events");
    const tx = context.tx;
    if (tx !== undefined && !this.queue) {
      throw new MeshworkRulesError("invalid_request", `tx: ingesting inside your own transaction needs a store with a shared queue, such as postgresStore (this engine's store is "${this.store.name}")`);
    }
    const shared = this.queue !== undefined;
    const now = this.now();
    const createdBy = `publishable_key:${maskKey(context.publishableKey)}`;
    const byEvent = this.index.get(workspace);
    const records: IngestResult["records"] = new Array(events.length);
    const serialize = this.store.durable === true;
    const items: NewEvent[] = [];
    const positions: number[] = [];
    const rulesOf: CompiledRule[][] = [];
    let failed = 0;

    for (let i = 0; i < events.length; i++) {
      const raw = events[i];
      // Serialized once, here: checked for JSON, and handed to the store as it is written.
      let json: string | undefined;
      let problem = checkEvent(raw, workspace);
      if (!problem && serialize) {
        const serialized = payloadJson((raw as IngestEvent).payload);
        if (typeof serialized === "string") json = serialized;
        else problem = serialized;
      }
      if (problem) {
        records[i] = { message: `${problem.field}: ${problem.message}`, error: "invalid_event", field: problem.field, retryable: false };
        failed++;
        continue;
      }
      const e = raw as IngestEvent;
      const id = e.id ?? uuidv7(now);
      const resource = e.resource ?? null;
      const resourceId = e.resource_id ?? null;
      const row: EventRow = {
        workspace,
        id,
        event: e.event,
        resource,
        resource_id: resourceId,
        payload: e.payload,
        created_by: createdBy,
        created_at: now,
        status: "pending",
        total_rules: 0,
        completed_count: 0,
        failed_count: 0,
      };
      const deliveries: DeliveryRow[] = [];
      const matched: CompiledRule[] = [];
      const candidates = byEvent?.get(e.event);
      if (candidates) {
        for (const rule of candidates) {
          if (rule.resource !== null && rule.resource !== resource) continue;
          if (rule.resourceId !== null && rule.resourceId !== resourceId) continue;
          if (rule.predicate && !rule.predicate(e.payload)) continue;
          const deliveryId = uuidv7(now);
          matched.push(rule);
          deliveries.push({
            id: deliveryId,
            workspace,
            event_id: id,
            rule_id: rule.config.id,
            connection: rule.conn.config.id,
            action: rule.action,
            integration_type: rule.conn.config.type,
            event: e.event,
            status: "pending",
            attempt_count: 0,
            round_start: 0,
            next_attempt_at: shared && rule.conn.retry.schedule[0] ? now + jittered(rule.conn.retry.schedule[0], rule.conn.retry.jitter, this.random) : null,
            last_error: null,
            last_outcome: null,
            idempotency_key: deliveryId,
            created_at: now,
            updated_at: now,
            completed_at: null,
          });
        }
      }
      row.total_rules = deliveries.length;
      row.status = deliveries.length ? "pending" : "completed";
      items.push(json === undefined ? { event: row, deliveries } : { event: row, deliveries, payloadJson: json });
      positions.push(i);
      rulesOf.push(matched);
    }

    if (items.length) {
      // Runs as soon as the store answers (for grouped inserts, in commit order: see `admit`).
      const committed = (results: InsertResult[]) => {
        const touched = new Set<Lane<Live>>();
        const createdIso = iso(now);
        for (let k = 0; k < results.length; k++) {
          const result = results[k]!;
          records[positions[k]!] = publicRecord(result.event, result.event.created_at === now ? createdIso : undefined);
          // Shared queue: workers (this engine among them) claim the deliveries from the store.
          if (!result.inserted || shared) continue;
          const item = items[k]!;
          if (item.deliveries.length === 0) continue;
          // Past the window they stay in the store, read back page by page.
          if (this.window !== undefined && !this.admit(result.event.seq, item.deliveries.length)) continue;
          const ctx = this.eventContext(item.event, createdIso);
          const matched = rulesOf[k]!;
          for (let d = 0; d < item.deliveries.length; d++) {
            const rule = matched[d]!;
            const live = this.makeLive(item.deliveries[d]!, ctx, rule);
            this.open.set(live.row.id, live);
            const first = rule.conn.retry.schedule[0] ?? 0;
            if (first > 0 && this.state === "running") this.schedule(live, now + jittered(first, rule.conn.retry.jitter, this.random));
            else {
              rule.conn.lane.push(live);
              touched.add(rule.conn.lane);
            }
          }
        }
        if (this.state === "running") for (const lane of touched) this.pump(lane);
        if (shared && tx === undefined) this.kickClaim();
        if (this.spillMode) this.kickLoad();
      };
      this.ingesting++;
      try {
        if (tx !== undefined) committed(await this.store.insertEvents(items, { tx }));
        else if (this.store.durable) await this.insertGrouped(items, committed);
        else committed(await this.store.insertEvents(items));
      } catch (error) {
        throw MeshworkRulesError.isInstance(error)
          ? error
          : new MeshworkRulesError("store_error", `storing the events failed: ${(error as Error)?.message ?? String(error)}`, { retryable: true, cause: error });
      } finally {
        this.ingesting--;
      }
    }
    this.checkIdle();
    const count = events.length - failed;
    return failed ? { count, error_count: failed, records } : { count, records };
  }

  /**
   * Ingest calls arriving in the same turn of the event loop share one `insertEvents` (one
   * transaction: group commit); each still resolves only once it is committed, after its
   * `committed` ran. A group does not wait for the one before it: the store commits them in the
   * order they come (SQLite's writer thread takes them in turn), while this thread answers the
   * last group's requests. With a window, that order is also the order of the spill decisions.
   */
  private insertGrouped(items: NewEvent[], committed: (results: InsertResult[]) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.insertQueue.push({ items, committed, resolve, reject });
      if (this.insertQueue.length === 1) setImmediate(this.flushInsertsNow);
    });
  }

  private readonly flushInsertsNow = () => void this.flushInserts();

  private async flushInserts(): Promise<void> {
    const queue = this.insertQueue;
    this.insertQueue = [];
    let all: NewEvent[];
    if (queue.length === 1) all = queue[0]!.items;
    else {
      all = [];
      for (const call of queue) for (const item of call.items) all.push(item);
    }
    let results: InsertResult[];
    try {
      results = await this.store.insertEvents(all);
    } catch (error) {
      for (const call of queue) call.reject(error);
      return;
    }
    let offset = 0;
    for (const call of queue) {
      try {
        call.committed(queue.length === 1 ? results : results.slice(offset, offset + call.items.length));
        call.resolve();
      } catch (error) {
        call.reject(error);
      }
      offset += call.items.length;
    }
  }

  private eventContext(row: EventRow, createdAt: string = iso(row.created_at)): DeliveryEvent {
    return {
      id: row.id,
      event: row.event,
      resource: row.resource,
      resource_id: row.resource_id,
      payload: row.payload,
      workspace: row.workspace,
      created_at: createdAt,
    };
  }

  private makeLive(row: DeliveryRow, event: DeliveryEvent, rule: CompiledRule): Live {
    return { row, event, rule, where: Where.Idle, key: undefined, due: 0, heapIndex: -1, token: 0, startedWall: 0, cancelRequested: false, dirty: false };
  }

  private keyOf(live: Live): { key: string | null; limit?: RateLimit } {
    const limit = live.rule.keyLimit;
    if (!limit) return { key: null };
    try {
      const metadata = renderTemplates(live.rule.metadata, live.event.payload);
      return { key: String(limit.key(metadata)), limit: { requests: limit.requests, perMs: limit.perMs } };
    } catch {
      // The attempt will fail with a mapping error; it needs no keyed budget.
      return { key: null };
    }
  }

  // ─── dispatch ────────────────────────────────────────────────────────────────────────────

  private schedule(live: Live, due: number): void {
    live.due = due;
    live.where = Where.Scheduled;
    this.heap.push(live);
    if (due < this.heapTimerAt) this.armHeapTimer();
  }

  private armHeapTimer(): void {
    if (this.state !== "running") return;
    const top = this.heap.peek();
    if (!top) return;
    if (this.heapTimer !== undefined) {
      if (this.heapTimerAt <= top.due) return;
      this.clock.clearTimeout(this.heapTimer);
    }
    this.heapTimerAt = top.due;
    this.heapTimer = this.clock.setTimeout(() => this.onHeapTimer(), top.due - this.now());
  }

  private onHeapTimer(): void {
    this.heapTimer = undefined;
    this.heapTimerAt = Infinity;
    if (this.state !== "running") return;
    const now = this.now();
    const touched = new Set<Lane<Live>>();
    for (let top = this.heap.peek(); top && top.due <= now; top = this.heap.peek()) {
      this.heap.pop();
      top.rule.conn.lane.push(top);
      touched.add(top.rule.conn.lane);
    }
    for (const lane of touched) this.pump(lane);
    this.armHeapTimer();
    this.checkIdle();
  }

  private wake(lane: Lane<Live>, at: number): void {
    if (lane.wakeTimer !== undefined) {
      if (lane.wakeAt <= at) return;
      this.clock.clearTimeout(lane.wakeTimer);
    }
    lane.wakeAt = at;
    lane.wakeTimer = this.clock.setTimeout(() => {
      lane.wakeTimer = undefined;
      lane.wakeAt = Infinity;
      this.pump(lane);
      this.checkIdle();
    }, Math.max(0, at - this.now()));
  }

  private pump(lane: Lane<Live>): void {
    if (this.state !== "running" || lane.queued === 0) return;
    const conn = this.conns.get(lane.id)!;
    const now = this.now();
    if (conn.disabled) {
      for (let live = lane.next(now); live; live = lane.next(now)) this.startAttempt(live, lane, now);
      return;
    }
    if (lane.pausedUntil > now) return this.wake(lane, lane.pausedUntil);
    while (lane.inFlight < lane.concurrency && lane.queued > 0) {
      if (!lane.breaker.allows(now)) {
        if (lane.breaker.state === "open") {
          const probeAt = lane.breaker.probeAt;
          // Shared queue: parked deliveries go back to the queue, due at the probe.
          if (this.queue) return this.releaseQueued(lane, probeAt);
          for (const live of lane.unparked(probeAt)) {
            live.row.next_attempt_at = probeAt;
            this.markDirty(live);
          }
          this.wake(lane, probeAt);
        }
        return;
      }
      if (lane.window && !lane.window.available(now)) return this.wake(lane, lane.window.nextAt(now));
      const live = lane.next(now);
      if (!live) {
        const at = lane.keyedNextAt(now);
        if (at !== Infinity) this.wake(lane, at);
        return;
      }
      lane.window?.take(now);
      lane.breaker.started();
      this.startAttempt(live, lane, now);
    }
  }

  private startAttempt(live: Live, lane: Lane<Live>, now: number): void {
    const row = live.row;
    lane.inFlight++;
    this.inFlight++;
    // A claimed delivery's start is already committed by the claim (its write-ahead).
    const claimed = live.claimed !== undefined;
    live.claimed = undefined;
    if (!claimed) {
      row.status = "processing";
      row.attempt_count++;
      row.next_attempt_at = null;
    }
    row.updated_at = now;
    live.where = Where.InFlight;
    live.startedWall = performance.now();
    live.token++;
    this.running.add(live);
    if (claimed || !this.recordStarts) return this.launch(live);
    this.markDirty(live);
    if (this.writeAhead) this.awaitingCommit.push(live);
    else this.launch(live);
  }

  private launch(live: Live): void {
    const token = live.token;
    if (live.cancelRequested) {
      return this.complete(live, token, this.syntheticResult("rejected_client_error", false, "canceled before the request was sent", live));
    }
    void this.execute(live).then(
      (result) => this.complete(live, token, result),
      (error: unknown) => this.complete(live, token, this.syntheticResult("internal_error", true, `the engine failed running the attempt: ${String(error)}`, live)),
    );
  }

  /**
   * Launches committed starts a slice per turn of the event loop. All at once, requests that
   * finish without I/O (sandbox simulators) would all complete before the next flush could go
   * out: the writer and this thread would take turns. In slices, the next group commit is
   * written while the rest of the requests run. A slice is at least `LAUNCH_SLICE` and at least
   * a `LAUNCH_TURNS`th of what waits, so when turns are long (a server busy with requests), the
   * commits grow, the slices with them, and launching keeps up.
   */
  private launchCommitted(starts: Live[]): void {
    const idle = this.launchHead === this.toLaunch.length;
    for (const live of starts) this.toLaunch.push(live);
    this.launchSliceSize = Math.max(LAUNCH_SLICE, Math.ceil((this.toLaunch.length - this.launchHead) / LAUNCH_TURNS));
    if (idle) this.launchSlice();
  }

  private readonly launchSlice = (): void => {
    const queue = this.toLaunch;
    const end = Math.min(queue.length, this.launchHead + this.launchSliceSize);
    while (this.launchHead < end) {
      const live = queue[this.launchHead++]!;
      if (live.where === Where.InFlight) this.launch(live);
    }
    if (this.launchHead < queue.length) setImmediate(this.launchSlice);
    else {
      this.toLaunch = [];
      this.launchHead = 0;
    }
  };

  private execute(live: Live): Promise<AttemptResult> {
    const rule = live.rule;
    const conn = rule.conn;
    if (conn.disabled) {
      return Promise.resolve(
        this.syntheticResult(
          "rejected_client_error",
          false,
          `connection "${conn.config.id}" is disabled since ${iso(conn.disabled.at)}: ${conn.disabled.reason}; after fixing the destination, call engine.enableConnection("${conn.config.id}")`,
          live,
        ),
      );
    }
    let mapped: Record<string, unknown> | undefined;
    let warnings: string[] | undefined;
    if (rule.mapping) {
      const outcome = rule.mapping(live.event.payload);
      if (outcome.error) {
        const result = this.syntheticResult("mapping_error", false, outcome.error, live);
        result.notes = outcome.warnings.map((w) => `warning: ${w}`);
        return Promise.resolve(result);
      }
      mapped = outcome.mapped;
      if (outcome.warnings.length) warnings = outcome.warnings;
    }
    const attempt = runAction({
      destination: conn.destination,
      action: rule.action,
      credentials: conn.config.credentials,
      metadata: rule.metadata,
      event: live.event,
      mapped,
      idempotencyKey: live.row.idempotency_key,
      connection: conn.info,
      attempt: live.row.attempt_count,
      state: conn.state,
      fetch: conn.fetch,
      signal: this.abort.signal,
      timeoutMs: conn.config.timeoutMs,
      now: this.now,
      onRateLimit: conn.onRateLimit,
      beforeRequest: this.requestGate(live),
    });
    if (!warnings) return attempt;
    const notes = warnings.map((w) => `warning: ${w}`);
    return attempt.then((result) => ({ ...result, notes: [...notes, ...result.notes] }));
  }

  private syntheticResult(outcome: AttemptResult["outcome"], retryable: boolean, message: string, live: Live): AttemptResult {
    const now = this.now();
    const started = live.row.updated_at;
    return { outcome, retryable, message, startedAt: started, durationMs: Math.max(0, now - started), exchanges: [], notes: [] };
  }

  private complete(live: Live, token: number, result: AttemptResult): void {
    if (live.token !== token || live.where !== Where.InFlight) return;
    live.token++;
    this.running.delete(live);
    const lane = live.rule.conn.lane;
    const conn = live.rule.conn;
    lane.inFlight--;
    this.inFlight--;
    const now = this.now();
    const row = live.row;

    const signal: BreakerSignal =
      result.outcome === "delivered" || result.outcome === "rejected_client_error" || result.outcome === "auth_failed"
        ? "success"
        : result.outcome === "rate_limited" || result.outcome === "mapping_error" || !result.retryable
          ? "neutral"
          : "failure";
    if (conn.disabled) {
      // A disabled connection's synthetic failures say nothing about the destination.
    } else if (lane.breaker.external) this.reportBreaker(conn, signal, now);
    else if (lane.breaker.record(signal, now)) {
      this.logger.warn(`circuit of connection "${conn.config.id}" opened after ${lane.breaker.failures} consecutive failures; probing at ${iso(lane.breaker.probeAt)}`);
    }
    if (result.outcome === "rate_limited") {
      const pause = Math.min(result.retryAfterMs ?? 1000, conn.retry.maxRetryAfterMs);
      lane.pausedUntil = Math.max(lane.pausedUntil, now + pause);
      if (conn.bucket) this.limits!.pause(conn.bucket.bucket, pause).catch((error: unknown) => this.reportError(error));
    }
    if (result.disableConnection && !conn.disabled) this.disable(conn, now, result.message);

    row.last_outcome = result.outcome;
    row.updated_at = now;
    if (result.outcome === "delivered") {
      row.status = "completed";
      row.last_error = null;
    } else if (live.cancelRequested) {
      row.status = "canceled";
      row.last_error = result.message;
    } else if (!result.retryable) {
      row.status = "failed";
      row.last_error = result.message;
    } else {
      const delay = nextDelay(conn.retry, row.attempt_count - row.round_start, result.retryAfterMs, this.random);
      row.last_error = result.message;
      if (delay === undefined) {
        row.status = "failed";
        row.last_error = `${result.message} (gave up after ${row.attempt_count - row.round_start} attempts)`;
      } else {
        row.status = "retrying";
        row.next_attempt_at = now + delay;
      }
    }
    const attempt: AttemptRow = {
      delivery_id: row.id,
      workspace: row.workspace,
      event_id: row.event_id,
      rule_id: row.rule_id,
      attempt: row.attempt_count,
      started_at: result.startedAt,
      duration_ms: result.durationMs,
      status: result.status ?? null,
      outcome: result.outcome,
      retryable: result.retryable,
      message: result.message,
      // Most attempts have no notes (and a no-op one no exchanges): keep one shared empty list.
      exchanges: result.exchanges.length ? result.exchanges : NONE,
      notes: result.notes.length ? result.notes : NONE,
    };
    if (row.status === "retrying" && this.queue) {
      // Shared queue: the write releases it, due at its retry time, for any engine to claim.
      live.where = Where.Done;
      this.open.delete(row.id);
    } else if (row.status === "retrying") {
      live.where = Where.Idle;
      if (row.next_attempt_at! <= now && this.state === "running") {
        lane.push(live);
      } else this.schedule(live, row.next_attempt_at!);
    } else {
      row.completed_at = now;
      row.next_attempt_at = null;
      live.where = Where.Done;
      this.open.delete(row.id);
    }
    this.markDirty(live, attempt);
    if (this.listeners.delivery.size) this.emitDelivery(row);
    this.pump(lane);
    if (this.backlog && lane.queued <= lane.concurrency / 2) this.kickClaim();
    if (this.spillMode) this.kickLoad();
    this.checkIdle();
  }

  private disable(conn: Conn, now: number, reason: string): void {
    conn.disabled = { at: now, reason };
    this.logger.warn(`connection "${conn.config.id}" disabled: ${reason}`);
    this.store.setConnectionStatus(conn.config.id, { connection: conn.config.id, disabled_at: now, reason }).catch((error: unknown) => this.reportError(error));
  }

  async enableConnection(connectionId: string): Promise<void> {
    const conn = this.connection(connectionId);
    conn.disabled = undefined;
    conn.lane.breaker.record("success", this.now());
    await this.store.setConnectionStatus(connectionId, null);
  }

  private checkTimeouts(): void {
    if (this.running.size === 0) return;
    const limit = performance.now() - this.attemptTimeoutMs;
    for (const live of [...this.running]) {
      if (live.startedWall <= limit) {
        this.complete(live, live.token, this.syntheticResult("timeout", true, `the attempt did not finish within ${this.attemptTimeoutMs} ms; its result, if any, is ignored`, live));
      }
    }
  }

  // ─── rate limits per request ─────────────────────────────────────────────────────────────

  /**
   * The `beforeRequest` hook of one attempt: limits apply to every HTTP request, not only to the
   * attempt's start. Locally the attempt's first request uses the token taken when it started;
   * with shared limits every request takes one from the store's bucket.
   */
  private requestGate(live: Live): RequestHook | undefined {
    const conn = live.rule.conn;
    const bucket = conn.bucket;
    if (bucket) return ({ signal }) => bucket.acquire(signal);
    const window = conn.lane.window;
    if (!window) return undefined;
    let prepaid = true;
    return ({ signal }) => {
      if (prepaid) {
        prepaid = false;
        return;
      }
      return this.takeLocal(window, signal);
    };
  }

  private takeLocal(window: RateWindow, signal: AbortSignal | undefined): Promise<void> | void {
    const now = this.now();
    if (window.available(now)) return window.take(now);
    this.throttled++;
    return new Promise<void>((resolve, reject) => {
      let handle: unknown;
      const done = () => {
        this.throttled--;
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        this.clock.clearTimeout(handle);
        done();
        reject(signal!.reason);
      };
      const retry = () => {
        const t = this.now();
        if (!window.available(t)) {
          handle = this.clock.setTimeout(retry, window.nextAt(t) - t);
          return;
        }
        window.take(t);
        done();
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      handle = this.clock.setTimeout(retry, window.nextAt(now) - now);
      this.checkIdle();
    });
  }

  // ─── shared queue (claim mode) ───────────────────────────────────────────────────────────

  private startClaiming(): void {
    this.unsubscribe = this.queue!.subscribe(() => this.kickClaim());
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(20, Math.floor(this.leaseMs / 3)));
    this.renewTimer.unref?.();
    this.kickClaim();
  }

  private stopClaiming(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = undefined;
    if (this.claimTimer !== undefined) this.clock.clearTimeout(this.claimTimer);
    this.claimTimer = undefined;
    this.claimAgain = false;
    this.backlog = false;
    this.dueAt = null;
  }

  /** Claims due deliveries now, or right after the claim in progress. */
  private kickClaim(): void {
    if (!this.claiming || this.state !== "running") return;
    if (this.claimRunning) {
      this.claimAgain = true;
      return;
    }
    if (this.claimTimer !== undefined) this.clock.clearTimeout(this.claimTimer);
    this.claimTimer = undefined;
    this.claimRunning = true;
    void this.claimOnce();
  }

  private async claimOnce(): Promise<void> {
    let delay = this.pollIntervalMs;
    try {
      let now = this.now();
      if (now - this.lastSync >= this.pollIntervalMs) await this.syncShared(now);
      if (this.limits) await this.tryProbes(now);
      now = this.now();
      const capacity = new Map<string, number>();
      let total = 0;
      for (const conn of this.conns.values()) {
        const room = this.room(conn, now);
        if (room > 0) {
          capacity.set(conn.config.id, room);
          total += room;
        }
      }
      if (total === 0) {
        // Every lane is full (a completion claims again) or held back (breaker, pause).
        this.backlog = this.inFlight > 0;
      } else {
        const limit = Math.min(total, this.claimBatch);
        const { deliveries, nextAt } = await this.queue!.claim({ worker: this.workerId, limit, leaseMs: this.leaseMs, capacity });
        this.adopt(deliveries);
        this.backlog = deliveries.length >= limit;
        this.dueAt = nextAt;
        const after = this.now();
        if (this.backlog) delay = 0;
        else if (nextAt !== null) delay = Math.min(this.pollIntervalMs, Math.max(deliveries.length ? 0 : 25, nextAt - after));
      }
    } catch (error) {
      this.reportError(error);
    } finally {
      this.claimRunning = false;
    }
    if (this.claimAgain) {
      this.claimAgain = false;
      delay = 0;
    }
    if (this.state === "running") {
      if (delay <= 0) this.kickClaim();
      else this.claimTimer = this.clock.setTimeout(() => {
        this.claimTimer = undefined;
        this.kickClaim();
      }, delay);
    }
    this.checkIdle();
  }

  /** Deliveries this engine may claim for a connection now: its free concurrency slots (each claim starts an attempt). */
  private room(conn: Conn, now: number): number {
    const lane = conn.lane;
    if (lane.pausedUntil > now) return 0;
    const breaker = lane.breaker;
    if (breaker.state === "open" && (breaker.external || breaker.probeAt > now)) return 0;
    if (breaker.state === "half_open" || breaker.state === "open") return lane.inFlight + lane.queued > 0 ? 0 : 1;
    // No prefetch while the shared breaker counts failures: fewer attempts go out before it opens.
    return lane.concurrency - lane.queued - lane.inFlight;
  }

  /** Takes the probe of each shared circuit whose cool-down is over, when no other engine has it. */
  private async tryProbes(now: number): Promise<void> {
    for (const conn of this.conns.values()) {
      const breaker = conn.lane.breaker;
      if (!breaker.external || breaker.state !== "open" || breaker.probeAt > now) continue;
      if (await this.limits!.probe(conn.config.id, this.workerId, now, this.leaseMs)) {
        breaker.state = "half_open";
        breaker.probing = false;
      } else breaker.probeAt = now + this.pollIntervalMs;
    }
  }

  /** Reads what other engines changed: shared breakers, and connections disabled or enabled. */
  private async syncShared(now: number): Promise<void> {
    this.lastSync = now;
    const disabled = new Map((await this.store.connectionStatuses()).map((status) => [status.connection, status]));
    for (const conn of this.conns.values()) {
      const status = disabled.get(conn.config.id);
      if (status && !conn.disabled) conn.disabled = { at: status.disabled_at, reason: status.reason };
      // Enabled by another engine (a disable of our own may still be on its way to the store).
      else if (!status && conn.disabled && conn.disabled.at < now - this.pollIntervalMs) conn.disabled = undefined;
    }
    if (!this.limits) return;
    const states = new Map((await this.limits.breakers()).map((b) => [b.connection, b]));
    for (const conn of this.conns.values()) {
      if (!conn.lane.breaker.external) continue;
      const state = states.get(conn.config.id);
      if (state) this.applyBreaker(conn, state, now);
      else if (conn.sharedFailures > 0 || conn.lane.breaker.state !== "closed") this.applyBreaker(conn, { connection: conn.config.id, state: "closed", failures: 0, probeAt: 0 }, now);
    }
  }

  /**
   * Takes claimed deliveries into the lanes; each starts at once (the claim asked only for free
   * slots). An interrupted one has its lost attempt put on record first.
   */
  private adopt(claimed: ClaimedDelivery[]): void {
    if (claimed.length === 0) return;
    const now = this.now();
    const touched = new Set<Lane<Live>>();
    const events = new Map<EventRow, DeliveryEvent>();
    for (const { delivery: row, event, interrupted } of claimed) {
      if (this.open.has(row.id)) continue;
      const rule = this.rules.get(row.rule_id);
      if (!rule || rule.conn.config.workspace !== row.workspace || this.state !== "running") {
        // Not ours to run (or stopping): the claim's attempt never started.
        row.attempt_count--;
        if (this.state === "running") {
          row.status = "failed";
          row.last_error = `rule "${row.rule_id}" is not in this engine's configuration; the delivery was failed when the engine claimed it`;
          row.completed_at = now;
        } else row.status = interrupted ? "processing" : row.attempt_count > row.round_start ? "retrying" : "pending";
        row.next_attempt_at = row.status === "failed" ? null : now;
        row.updated_at = now;
        this.markDirty({ row, dirty: false });
        continue;
      }
      let ctx = events.get(event);
      if (!ctx) events.set(event, (ctx = this.eventContext(event)));
      const live = this.makeLive(row, ctx, rule);
      live.claimed = interrupted || row.attempt_count - 1 > row.round_start ? "retrying" : "pending";
      if (interrupted) {
        // At-least-once: the destination may have got it, so it goes again, the lost attempt on record.
        this.markDirty(live, interruptedAttempt(row, row.attempt_count - 1, now));
        row.last_outcome = "internal_error";
        row.last_error = INTERRUPTED;
      }
      this.open.set(row.id, live);
      rule.conn.lane.push(live);
      touched.add(rule.conn.lane);
    }
    for (const lane of touched) this.pump(lane);
  }

  /** Undoes a claim's attempt start on a delivery that did not start (canceled, parked, released). */
  private unclaim(live: Live): void {
    if (live.claimed === undefined) return;
    live.row.status = live.claimed;
    live.row.attempt_count--;
    live.claimed = undefined;
  }

  /** Gives a lane's queued deliveries back to the queue, due at `at` (an open circuit's probe). */
  private releaseQueued(lane: Lane<Live>, at: number): void {
    for (const live of [...lane.pending()]) {
      lane.forget(live);
      this.unclaim(live);
      live.where = Where.Done;
      this.open.delete(live.row.id);
      live.row.next_attempt_at = at;
      this.markDirty(live);
    }
  }

  /** Forgets deliveries another engine took over after this one's lease ran out. */
  private dropLost(ids: Iterable<string>, only?: Map<string, Live>): void {
    for (const id of ids) {
      const live = this.open.get(id);
      if (!live || (only && only.get(id) !== live)) continue;
      this.open.delete(id);
      if (live.where === Where.Queued) live.rule.conn.lane.forget(live);
      else if (live.where === Where.Scheduled) this.heap.remove(live);
      else if (live.where === Where.InFlight) {
        // Still waiting for its write-ahead: it never starts. Already running: its result is not written.
        live.token++;
        this.running.delete(live);
        live.rule.conn.lane.inFlight--;
        this.inFlight--;
      }
      live.where = Where.Done;
      this.logger.warn(`delivery ${id} was taken over by another worker after this one's lease ran out (was the process stalled?)`);
    }
    this.checkIdle();
  }

  private async renewLeases(): Promise<void> {
    if (this.renewing || this.open.size === 0 || (this.state !== "running" && this.state !== "stopping")) return;
    this.renewing = true;
    const snapshot = new Map(this.open);
    try {
      const { held, canceled } = await this.queue!.renew(this.workerId, [...snapshot.keys()], this.leaseMs);
      const kept = new Set(held);
      this.dropLost(
        [...snapshot.keys()].filter((id) => !kept.has(id)),
        snapshot,
      );
      for (const id of canceled) {
        const live = this.open.get(id);
        if (live) this.cancelLive(live);
      }
    } catch (error) {
      this.reportError(error);
    } finally {
      this.renewing = false;
    }
  }

  /** Sends an attempt's outcome to the shared breaker (successes only while it counts failures). */
  private reportBreaker(conn: Conn, signal: BreakerSignal, now: number): void {
    const breaker = conn.lane.breaker;
    if (signal === "neutral") {
      if (breaker.state === "half_open") breaker.probing = false;
      return;
    }
    const failure = signal === "failure";
    if (!failure && (conn.reporting || (conn.sharedFailures === 0 && breaker.state === "closed"))) return;
    if (!failure) conn.reporting = true;
    this.limits!.record(conn.config.id, failure, conn.breakerPolicy, now).then(
      (state) => {
        if (!failure) conn.reporting = false;
        this.applyBreaker(conn, state, this.now());
      },
      (error: unknown) => {
        if (!failure) conn.reporting = false;
        this.reportError(error);
      },
    );
  }

  /** Mirrors the shared breaker in the lane's own. */
  private applyBreaker(conn: Conn, state: SharedBreakerState, now: number): void {
    const breaker = conn.lane.breaker;
    conn.sharedFailures = state.failures;
    if (state.state === "closed") {
      if (breaker.state !== "closed") {
        breaker.record("success", now);
        this.pump(conn.lane);
        this.kickClaim();
      }
      return;
    }
    // Open, or half-open with the probe (perhaps ours) in flight: no new attempts until probeAt.
    if (breaker.state === "half_open" && breaker.probing && state.state === "half_open") return;
    const opened = breaker.state === "closed";
    breaker.state = "open";
    breaker.probing = false;
    breaker.probeAt = state.probeAt;
    breaker.openedAt = now;
    if (opened) this.logger.warn(`circuit of connection "${conn.config.id}" opened after ${state.failures} consecutive failures (shared); probing at ${iso(state.probeAt)}`);
    this.pump(conn.lane);
  }

  // ─── writes ──────────────────────────────────────────────────────────────────────────────

  private markDirty(item: Dirtyable, attempt?: AttemptRow): void {
    if (!item.dirty) {
      item.dirty = true;
      this.dirtyList.push(item);
    }
    if (attempt) this.attemptsToWrite.push(attempt);
    if (!this.flushScheduled && !this.flushing) {
      this.flushScheduled = true;
      this.scheduleFlush();
    }
  }

  /** Flushes run on the next turn of the event loop, carrying every change made until then. */
  private scheduleFlush(): void {
    setImmediate(this.flushNow);
  }

  /** Writes every change since the last flush in one store call (one transaction: group commit). */
  private flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    this.flushScheduled = false;
    if (this.dirtyList.length === 0 && this.attemptsToWrite.length === 0 && this.awaitingCommit.length === 0) {
      this.checkIdle();
      return Promise.resolve();
    }
    // The store reads the rows during the call (see Store.write), so no copies are made here.
    const written = this.dirtyList;
    const deliveries: DeliveryRow[] = new Array(written.length);
    for (let i = 0; i < written.length; i++) {
      const item = written[i]!;
      item.dirty = false;
      deliveries[i] = item.row;
    }
    const attempts = this.attemptsToWrite;
    const starts = this.awaitingCommit;
    this.dirtyList = [];
    this.attemptsToWrite = [];
    this.awaitingCommit = [];
    // Claim mode: only rows this engine holds are written; those it no longer holds are released.
    const batch = this.claiming ? { deliveries, attempts, worker: this.workerId, held: this.open } : { deliveries, attempts };
    this.flushing = this.store.write(batch).then(
      (result) => {
        this.flushing = undefined;
        if (result && result.lost.length) this.dropLost(result.lost);
        this.launchCommitted(starts);
        if ((this.dirtyList.length || this.attemptsToWrite.length) && !this.flushScheduled) {
          this.flushScheduled = true;
          this.scheduleFlush();
        }
        this.checkIdle();
      },
      (error: unknown) => {
        this.flushing = undefined;
        for (const item of written) {
          if (!item.dirty) {
            item.dirty = true;
            this.dirtyList.push(item);
          }
        }
        this.attemptsToWrite = [...attempts, ...this.attemptsToWrite];
        this.awaitingCommit = [...starts, ...this.awaitingCommit];
        this.reportError(error);
        if (this.state === "running" || this.state === "stopping") {
          this.flushRetry = setTimeout(() => {
            this.flushRetry = undefined;
            void this.flush();
          }, 1000);
          this.flushRetry.unref?.();
        }
      },
    );
    return this.flushing;
  }

  private reportError(error: unknown): void {
    const wrapped = error instanceof Error ? error : new MeshworkRulesError("internal_error", String(error));
    if (this.listeners.error.size) for (const listener of this.listeners.error) listener(wrapped);
    else this.logger.error(wrapped.message, wrapped);
  }

  /** Writes pending changes now, so reads see them. */
  private async settle(): Promise<void> {
    for (let i = 0; i < 10 && (this.flushing || this.dirtyList.length || this.attemptsToWrite.length); i++) {
      if (this.flushing) await this.flushing.catch(noop);
      else if (this.state === "stopped") break;
      else await this.flush().catch(noop);
    }
  }

  // ─── drain ───────────────────────────────────────────────────────────────────────────────

  private quiet(): boolean {
    // With a test clock, an attempt waiting for a rate-limit token waits for a timer, like a retry.
    const busy = this.throttled > 0 && isTestClock(this.clock) ? this.inFlight - this.throttled : this.inFlight;
    if (busy > 0 || this.ingesting > 0 || this.loading || this.flushing || this.flushScheduled || this.dirtyList.length || this.attemptsToWrite.length) return false;
    if (this.state === "starting") return false;
    if (this.state !== "running") return true;
    // Spilled deliveries: a page is due, or (on the wall clock) they wait for room in the window.
    if (this.spillMode && (this.open.size <= this.lowWater || !isTestClock(this.clock))) return false;
    if (isTestClock(this.clock)) return true;
    const now = this.now();
    if (this.claiming && (this.claimRunning || this.claimAgain || this.backlog || (this.dueAt !== null && this.dueAt <= now))) return false;
    const top = this.heap.peek();
    if (top && top.due <= now) return false;
    for (const conn of this.conns.values()) {
      const lane = conn.lane;
      if (lane.queued > 0 && !(lane.breaker.state === "open" && lane.breaker.probeAt > now)) return false;
    }
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.quiet()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private idle(): Promise<void> {
    if (this.quiet()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async drain(options: DrainOptions = {}): Promise<void> {
    if (options.advanceClock && !isTestClock(this.clock)) {
      throw new MeshworkRulesError("invalid_request", "drain({ advanceClock: true }) needs a test clock: createEngine({ clock: createTestClock() })");
    }
    if (this.state === "starting") await this.starting;
    const keepAlive = setInterval(noop, 1 << 30);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout =
      options.timeoutMs === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new MeshworkRulesError("drain_timeout", `drain did not finish within ${options.timeoutMs} ms (${this.open.size + this.spilled} deliveries open, ${this.inFlight} in flight)`, { retryable: true })), options.timeoutMs);
          });
    const run = async () => {
      for (;;) {
        await this.idle();
        if (!options.advanceClock || this.state !== "running") return;
        const clock = this.clock as TestClock;
        if (this.open.size === 0 && !this.spillMode) return;
        const next = clock.nextTimerAt();
        if (next === undefined || (options.until !== undefined && next > options.until)) return;
        clock.advanceTo(Math.max(next, clock.now()));
        // Let the attempts the timers started begin before checking again.
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    try {
      await (timeout ? Promise.race([run(), timeout]) : run());
    } finally {
      clearInterval(keepAlive);
      if (timer) clearTimeout(timer);
    }
  }

  // ─── history and control ─────────────────────────────────────────────────────────────────

  events = {
    list: async (query: EventListQuery = {}): Promise<Page<EventSummary>> => {
      const limit = query.limit === undefined ? 50 : Math.trunc(query.limit);
      if (!(limit >= 1 && limit <= 500)) throw new MeshworkRulesError("invalid_request", `limit: must be between 1 and 500, got ${query.limit}`);
      await this.settle();
      const rows = await this.store.listEvents({
        ...(query.workspace !== undefined && { workspaces: asArray(query.workspace)! }),
        ...(query.status !== undefined && { statuses: asArray(query.status)! as EventStatus[] }),
        ...(query.event !== undefined && { event: query.event }),
        ...(query.resource !== undefined && { resource: query.resource }),
        ...(query.resource_id !== undefined && { resource_id: query.resource_id }),
        ...(query.since !== undefined && { since: toTime(query.since, "since")! }),
        ...(query.until !== undefined && { until: toTime(query.until, "until")! }),
        ...(query.cursor && { beforeSeq: decodeCursor(query.cursor) }),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return {
        count: page.length,
        limit,
        next_cursor: rows.length > limit ? encodeCursor(page[page.length - 1]!.seq!) : null,
        records: page.map(publicSummary),
      };
    },

    get: async (eventId: string, options: { workspace?: string } = {}): Promise<EventDetail | undefined> => {
      await this.settle();
      const row = await this.findEvent(eventId, options.workspace);
      if (!row) return undefined;
      const deliveries = (await this.store.eventDeliveries(row.workspace, row.id)).map((d) => this.open.get(d.id)?.row ?? d);
      const summary = summarizeDeliveries(deliveries);
      return {
        ...publicSummary({ ...row, ...summary }),
        payload: row.payload,
        deliveries: deliveries.map(publicDelivery),
      };
    },

    cancel: async (eventId: string, options: { workspace?: string } = {}): Promise<Delivery[]> => {
      await this.settle();
      const row = await this.findEvent(eventId, options.workspace);
      if (!row) throw new MeshworkRulesError("not_found", `event "${eventId}" not found`);
      const out: Delivery[] = [];
      for (const delivery of await this.store.eventDeliveries(row.workspace, row.id)) {
        const live = this.open.get(delivery.id);
        if (live) out.push(this.cancelLive(live));
        else if (this.queue && OPEN_STATUSES.includes(delivery.status)) {
          const canceled = await this.queue.cancel(delivery.id, this.now());
          if (canceled) out.push(this.announce(canceled));
        } else if (OPEN_STATUSES.includes(delivery.status) && this.beyond(row.seq, delivery.id)) {
          const canceled = await this.cancelSpilled({ delivery, event: row });
          if (canceled) out.push(canceled);
        }
      }
      return out;
    },
  };

  attempts = {
    list: async (eventId: string, ruleId: string): Promise<Attempt[]> => {
      await this.settle();
      const found = await this.findDelivery(eventId, ruleId);
      return (await this.store.listAttempts(found.delivery.id)).map(publicAttempt);
    },
  };

  private async findEvent(eventId: string, workspace: string | undefined): Promise<EventRow | undefined> {
    const rows = await this.store.getEvents(eventId, workspace);
    if (rows.length > 1) {
      throw new MeshworkRulesError(
        "ambiguous_event_id",
        `event id "${eventId}" exists in workspaces ${rows.map((r) => `"${r.workspace}"`).join(", ")}; pass { workspace } to choose`,
      );
    }
    return rows[0];
  }

  private async findDelivery(eventId: string, ruleId: string) {
    const rule = this.rules.get(ruleId);
    if (rule) {
      const found = await this.store.getDelivery(rule.config.workspace, eventId, ruleId);
      if (found) return found;
    } else {
      for (const event of await this.store.getEvents(eventId)) {
        const found = await this.store.getDelivery(event.workspace, eventId, ruleId);
        if (found) return found;
      }
    }
    throw new MeshworkRulesError("not_found", `no delivery of event "${eventId}" for rule "${ruleId}"`);
  }

  async retry(eventId: string, ruleId: string): Promise<Delivery> {
    this.assertRunning();
    await this.settle();
    const found = await this.findDelivery(eventId, ruleId);
    const live = this.open.get(found.delivery.id);
    if (live) {
      if (live.where === Where.InFlight) return publicDelivery(live.row);
      this.restart(live);
      return publicDelivery(live.row);
    }
    const row = found.delivery;
    if (row.status === "completed") throw completedError(row, ruleId);
    if (this.queue) {
      this.ruleFor(row);
      const from: DeliveryRow["status"][] = row.status === "failed" || row.status === "canceled" ? ["failed", "canceled"] : ["pending", "retrying"];
      const [requeued] = await this.queue.requeue([row.id], from, this.now());
      // Held by an engine right now (in flight or about to be): it runs anyway.
      if (!requeued) return publicDelivery(row);
      this.kickClaim();
      return this.announce(requeued);
    }
    if (this.beyond(found.event.seq, row.id)) return this.retrySpilled(found, ruleId);
    const restarted = this.revive(found.delivery, found.event);
    return publicDelivery(restarted.row);
  }

  private ruleFor(row: DeliveryRow): CompiledRule {
    const rule = this.rules.get(row.rule_id);
    if (!rule || rule.conn.config.workspace !== row.workspace) {
      throw new MeshworkRulesError("invalid_state", `rule "${row.rule_id}" is no longer in the configuration, so its deliveries cannot run again`);
    }
    return rule;
  }

  /** Tells the "delivery" listeners about a row changed in the shared queue; answers its public form. */
  private announce(row: DeliveryRow): Delivery {
    if (this.listeners.delivery.size) this.emitDelivery(row);
    return publicDelivery(row);
  }

  /** Makes a finished delivery open again with a fresh round of attempts. */
  private revive(row: DeliveryRow, event: EventRow): Live {
    const rule = this.ruleFor(row);
    const live = this.makeLive(row, this.eventContext(event), rule);
    this.open.set(row.id, live);
    this.restart(live);
    return live;
  }

  private restart(live: Live): void {
    const row = live.row;
    const lane = live.rule.conn.lane;
    if (live.where === Where.Scheduled) this.heap.remove(live);
    if (live.where === Where.Queued) lane.forget(live);
    this.unclaim(live);
    live.cancelRequested = false;
    freshRound(row, this.now());
    this.markDirty(live);
    lane.push(live);
    if (this.listeners.delivery.size) this.emitDelivery(row);
    this.pump(lane);
  }

  async cancel(eventId: string, ruleId: string): Promise<Delivery> {
    this.assertRunning();
    await this.settle();
    const found = await this.findDelivery(eventId, ruleId);
    const live = this.open.get(found.delivery.id);
    if (!live && this.queue) {
      const canceled = await this.queue.cancel(found.delivery.id, this.now());
      if (canceled) return this.announce(canceled);
    }
    if (!live && OPEN_STATUSES.includes(found.delivery.status) && this.beyond(found.event.seq, found.delivery.id)) {
      const canceled = await this.cancelSpilled(found);
      if (canceled) return canceled;
    }
    if (!live) throw new MeshworkRulesError("invalid_state", `the delivery is already ${found.delivery.status}; only pending, processing or retrying deliveries can be canceled`);
    return this.cancelLive(live);
  }

  private cancelLive(live: Live): Delivery {
    const row = live.row;
    const now = this.now();
    if (live.where === Where.InFlight) {
      live.cancelRequested = true;
      return publicDelivery(row);
    }
    if (live.where === Where.Scheduled) this.heap.remove(live);
    if (live.where === Where.Queued) live.rule.conn.lane.forget(live);
    this.unclaim(live);
    live.where = Where.Done;
    row.status = "canceled";
    row.next_attempt_at = null;
    row.updated_at = now;
    row.completed_at = now;
    this.open.delete(row.id);
    this.markDirty(live);
    if (this.listeners.delivery.size) this.emitDelivery(row);
    if (this.spillMode) this.kickLoad();
    this.checkIdle();
    return publicDelivery(row);
  }

  async replay(query: ReplayQuery, options: { dryRun?: boolean } = {}): Promise<{ count: number }> {
    if (!query || typeof query.workspace !== "string") throw new MeshworkRulesError("invalid_request", "replay: workspace is required");
    const statuses = asArray(query.status) ?? ["failed"];
    for (const status of statuses) {
      if (!TERMINAL_REPLAYABLE.includes(status)) throw new MeshworkRulesError("invalid_request", `replay: status "${status}" cannot be replayed (only ${TERMINAL_REPLAYABLE.join(", ")})`);
    }
    if (!options.dryRun) this.assertRunning();
    await this.settle();
    const found = await this.store.findDeliveries({
      workspace: query.workspace,
      statuses,
      ...(query.connection !== undefined && { connection: query.connection }),
      ...(query.rule !== undefined && { rule: query.rule }),
      ...(query.event !== undefined && { event: query.event }),
      ...(query.outcome !== undefined && { outcomes: asArray(query.outcome)! }),
      ...(query.since !== undefined && { since: toTime(query.since, "since")! }),
      ...(query.until !== undefined && { until: toTime(query.until, "until")! }),
    });
    const candidates = found.filter(({ delivery }) => !this.open.has(delivery.id) && this.rules.get(delivery.rule_id)?.conn.config.workspace === delivery.workspace);
    if (options.dryRun) return { count: candidates.length };
    if (this.queue) {
      const requeued = await this.queue.requeue(candidates.map((c) => c.delivery.id), statuses, this.now());
      for (const row of requeued) this.announce(row);
      this.kickClaim();
      return { count: requeued.length };
    }
    if (this.window === undefined) {
      for (const { delivery, event } of candidates) this.revive(delivery, event);
      return { count: candidates.length };
    }
    // Deliveries after the cursor go back to the store, behind the spilled ones; the rest to memory.
    return this.exclusive(async () => {
      const now = this.now();
      const stored: DeliveryRow[] = [];
      let count = 0;
      for (const { delivery, event } of candidates) {
        if (this.open.has(delivery.id)) continue;
        count++;
        if (!this.beyond(event.seq, delivery.id)) this.revive(delivery, event);
        else {
          freshRound(delivery, now);
          stored.push(delivery);
        }
      }
      if (stored.length) {
        await this.store.write({ deliveries: stored, attempts: [] });
        this.respill(stored.length);
        for (const row of stored) this.announce(row);
        this.kickLoad();
      }
      return { count };
    });
  }

  private assertRunning(): void {
    if (this.state !== "running") throw new MeshworkRulesError("engine_not_started", "the engine is not running; call engine.start() first", { retryable: true });
  }

  // ─── misc ────────────────────────────────────────────────────────────────────────────────

  on<K extends keyof EngineEvents>(name: K, listener: EngineEvents[K]): () => void {
    (this.listeners[name] as Set<EngineEvents[K]>).add(listener);
    return () => this.off(name, listener);
  }

  off<K extends keyof EngineEvents>(name: K, listener: EngineEvents[K]): void {
    (this.listeners[name] as Set<EngineEvents[K]>).delete(listener);
  }

  private emitDelivery(row: DeliveryRow): void {
    const delivery = publicDelivery(row);
    for (const listener of this.listeners.delivery) {
      try {
        listener(delivery);
      } catch (error) {
        this.logger.error(`a "delivery" listener threw: ${String(error)}`, error);
      }
    }
  }

  private connection(connectionId: string): Conn {
    const conn = this.conns.get(connectionId);
    if (!conn) throw new MeshworkRulesError("not_found", `connection "${connectionId}" is not in the configuration`);
    return conn;
  }

  sandbox<TSnapshot = unknown>(connectionId: string): Simulator<TSnapshot> {
    const conn = this.connection(connectionId);
    if (!conn.simulator) throw new MeshworkRulesError("not_sandbox", `connection "${connectionId}" is live; only mode: "sandbox" connections have a simulator`);
    return conn.simulator as Simulator<TSnapshot>;
  }

  workspaceOf(publishableKey: string): string | undefined {
    return this.keys.get(publishableKey);
  }

  stats(): EngineStats {
    let queued = 0;
    const connections: EngineStats["connections"] = [];
    for (const conn of this.conns.values()) {
      queued += conn.lane.queued;
      connections.push({ id: conn.config.id, inFlight: conn.lane.inFlight, queued: conn.lane.queued, circuit: conn.lane.breaker.state, disabled: conn.disabled !== undefined });
    }
    return { open: this.open.size + this.spilled, inMemory: this.open.size, spilled: this.spilled, inFlight: this.inFlight, queued, scheduled: this.heap.size, connections };
  }
}

import type { MeshworkError } from "./errors.js";

/** A JSON object payload, the body of an event. */
export type EventPayload = Record<string, unknown>;

/**
 * Maps event names to payload types, e.g. `{ "user.signup": { email: string } }`.
 * The default accepts any name and any object payload.
 */
export type EventMap = Record<string, object>;

/** An event as the caller emits it; `id` is generated (UUIDv7) when omitted. */
export interface EventInput<Name extends string = string, Payload extends object = EventPayload> {
  event: Name;
  payload: Payload;
  resource?: string;
  resource_id?: string;
  id?: string;
}

/** Every `EventInput` a client typed with `Events` accepts: a union over the event names. */
export type EventInputOf<Events> = {
  [K in keyof Events & string]: EventInput<K, Events[K] & object>;
}[keyof Events & string];

/** An event as it is sent: the id is always set and never changes across retries. */
export interface WireEvent {
  id: string;
  event: string;
  payload: EventPayload;
  resource?: string;
  resource_id?: string;
}

/** The stored event the endpoint or engine answers for an accepted event: the receipt of `emit`. */
export interface StoredEvent {
  id: string;
  event: string;
  type?: string;
  workspace?: string;
  created_by?: string;
  created_at?: string;
  resource?: string | null;
  resource_id?: string | null;
  payload?: unknown;
}

/**
 * A record of a bulk answer that was not stored. `retryable` (or `status`, or an `error` code
 * such as `internal_error`, `timeout`, `rate_limited`, `unavailable`) marks a failure worth resending.
 */
export interface FailedRecord {
  message: string;
  error?: unknown;
  retryable?: boolean;
  status?: number;
}

/** The body of a bulk answer (`201 { count, records }` or `207 { count, error_count, records }`); records are positional. */
export interface BulkResult {
  count: number;
  error_count?: number;
  records: Array<StoredEvent | FailedRecord>;
}

/**
 * Anything that ingests events in-process, such as the rules engine: `ingest` answers exactly
 * the bulk response body. Satisfied structurally, so the client never imports the engine.
 */
export interface EventsTransportTarget {
  ingest(events: WireEvent[], context: { publishableKey: string }): Promise<BulkResult>;
}

/** An event kept by a durable queue: its id and its serialized wire form. */
export interface QueuedEvent {
  id: string;
  body: string;
}

/**
 * Storage that keeps accepted events until they are acknowledged, so they survive a crash.
 * `add` must persist before it returns: `emit` calls it synchronously.
 */
export interface EventQueue {
  /** Events an earlier process left behind, oldest first; called once when the client starts. */
  load(): QueuedEvent[] | Promise<QueuedEvent[]>;
  add(event: QueuedEvent): void;
  /** Forgets events that were delivered, finally failed or dropped. */
  remove(ids: readonly string[]): void;
  close?(): void | Promise<void>;
}

/** What happens when the queue is full: evict the oldest queued event, refuse the new one, or throw from `emit`. */
export type OverflowPolicy = "drop-oldest" | "drop-newest" | "reject";

/** Retry limits for a batch; delays use exponential backoff with full jitter. */
export interface RetryOptions {
  /** Attempts per batch, the first included. Default 10. */
  maxAttempts?: number;
  /** Default 500. */
  baseDelayMs?: number;
  /** Default 60 000. */
  maxDelayMs?: number;
  /** Time after a batch's first attempt when it is given up. Default 12 h. */
  maxElapsedMs?: number;
  /** Upper bound on an honoured `Retry-After`. Default 300 000 (5 min). */
  maxRetryAfterMs?: number;
}

/** The result shape of a Standard Schema `validate` call. */
export type StandardSchemaResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/** One problem a Standard Schema reports. */
export interface StandardSchemaIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/** Any Standard Schema (zod, valibot, arktype…); only synchronous validation is supported. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

interface CommonOptions<Events> {
  /** Names the workspace, in hosted and in-process mode alike. */
  publishableKey: string;
  /** Events per batch, 1–100. Default 100. */
  flushAt?: number;
  /** A partial batch is sent this long after its first event. Default 1000. */
  flushIntervalMs?: number;
  /** Serialized size cap of one batch body. Default 512 000. */
  maxBatchBytes?: number;
  /** Requests (or `ingest` calls) at once. Default 4. */
  maxInFlight?: number;
  /** Events held (queued, waiting to retry or in flight). Default 10 000. */
  maxQueueEvents?: number;
  /** Serialized bytes held. Default 16 MiB. */
  maxQueueBytes?: number;
  /** Default `"drop-oldest"`. */
  overflow?: OverflowPolicy;
  retry?: RetryOptions;
  /** Per request (or `ingest` call). Default 10 000. */
  timeoutMs?: number;
  /** Serialized payload size limit, checked at `emit`. Default 32 768. */
  maxPayloadBytes?: number;
  /** Durable storage for queued events; the default keeps them in memory only. */
  queue?: EventQueue;
  /** Serverless hosts (Vercel, Cloudflare): called with a promise that settles once queued events are sent. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** Per-event-name Standard Schemas checked at `emit`; the validated output is what is sent. */
  schemas?: { [K in keyof NoInfer<Events>]?: StandardSchemaV1 };
}

/** Hosted mode: events go over HTTP to `endpoint`. */
export interface EndpointOptions<Events> extends CommonOptions<Events> {
  /** Base URL of the endpoint, e.g. `https://events.example.com`; `/api/v1/events/bulk` is appended. */
  endpoint: string;
  engine?: undefined;
  /** Extra request headers; the contract headers cannot be overridden. */
  headers?: Record<string, string>;
  /** A fetch implementation; defaults to the global one. */
  fetch?: typeof globalThis.fetch;
  /**
   * In a browser, send what is queued at once with `fetch(…, { keepalive: true })` when the page
   * is hidden (`visibilitychange`) or left (`pagehide`), so the last events of a session are not
   * lost; at most 64 KiB can leave that way. Default true; it does nothing outside a page.
   */
  flushOnHide?: boolean;
}

/** In-process mode: events go straight to an engine's `ingest`. */
export interface EngineOptions<Events> extends CommonOptions<Events> {
  engine: EventsTransportTarget;
  endpoint?: undefined;
  headers?: undefined;
  fetch?: undefined;
  flushOnHide?: undefined;
}

/** Options of `createClient`: one of `endpoint` or `engine`, plus batching, queue and retry settings. */
export type ClientOptions<Events = EventMap> = EndpointOptions<Events> | EngineOptions<Events>;

/** Why an event was dropped. */
export type DropReason = "queue_full";

/** Payloads of the events a client emits, by name. */
export interface ClientEventMap {
  delivered: { event: WireEvent; receipt: StoredEvent };
  retry: { ids: string[]; attempt: number; delayMs: number; error: MeshworkError };
  failed: { event: WireEvent; error: MeshworkError };
  dropped: { event: WireEvent; reason: DropReason; error: MeshworkError };
}

/** Totals over the client's life, answered by `close`. `pending` were still queued at the deadline. */
export interface CloseReport {
  sent: number;
  failed: number;
  dropped: number;
  pending: number;
}

/** The client `createClient` returns. */
export interface MeshworkClient<Events = EventMap> {
  /**
   * Validates synchronously, queues, and resolves with the stored record once the event is accepted.
   * Rejects only when the event finally fails or is dropped; an un-awaited call is safe.
   */
  emit(event: EventInputOf<Events>): Promise<StoredEvent>;
  /** `emit`, then send at once: for serverless handlers that must not wait for the interval. */
  emitAndFlush(event: EventInputOf<Events>): Promise<StoredEvent>;
  /** Sends everything queued now; resolves once those events are delivered, failed or dropped. Never rejects. */
  flush(): Promise<void>;
  /** Flushes, aborts what is still in flight at the deadline (default 10 s) and reports. Never rejects. */
  close(options?: { timeoutMs?: number }): Promise<CloseReport>;
  /** Subscribes to `delivered`, `retry`, `failed` or `dropped`; returns the unsubscribe function. */
  on<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): () => void;
  off<K extends keyof ClientEventMap>(type: K, listener: (event: ClientEventMap[K]) => void): void;
}

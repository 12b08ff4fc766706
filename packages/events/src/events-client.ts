import type { MeshworkError } from "./errors.js";
import { MeshworkDeliveryError, MeshworkValidationError } from "./errors.js";
import { prepareEvent } from "./prepare-event.js";
import { checkHeaders, makeFetch, post, withoutProtected } from "./transport.js";
import type { BulkResult, EventInput, StoredEvent } from "./types.js";
import { uuidv7 } from "./uuid.js";

/** Options of `EventsClient`, the `@mesheshq/events` ones plus `fetch` and `maxPayloadBytes`. */
export interface EventsClientOptions {
  /** Base URL including the version path. Default `https://api.meshes.io/api/v1`. */
  apiBaseUrl?: string;
  /** Only `"v1"` exists. */
  version?: "v1";
  /** Request timeout in ms, 1000–30000. Default 5000. */
  timeout?: number;
  /** Extra headers on every request; setting a contract header throws. */
  headers?: Record<string, string>;
  /** Logs requests and failures with `console.debug` / `console.error`. */
  debug?: boolean;
  fetch?: typeof globalThis.fetch;
  /** Serialized payload size limit. Default 32 768. */
  maxPayloadBytes?: number;
}

/** Per-call options; contract headers given here are dropped silently. */
export interface EventsRequestOptions {
  headers?: Record<string, string>;
  timeout?: number;
}

/** Node-style callback: `(null, data)` on success, `(error)` on failure. */
export type EventsCallback<T> = (error: MeshworkError | null, data?: T) => void;

/** The answer to a single `emit`: `{ event }`, the stored event. */
export interface CreateEventResult {
  event: StoredEvent;
}

const KEY = /^(mesh|mw)_pub_[A-Za-z0-9._-]+$/;

function checkTimeout(value: unknown, field: string): number {
  if (typeof value !== "number" || !(value >= 1000 && value <= 30_000)) {
    throw new MeshworkValidationError(field, "invalid_option", "must be a number of milliseconds from 1000 to 30000");
  }
  return value;
}

/**
 * A drop-in for the `@mesheshq/events` client: one request per call, no queue, promise or
 * callback style. Ids are added (UUIDv7) and `emitBatch` sends an `Idempotency-Key`, so a
 * caller's own retry is deduplicated. For batching and retries use `createClient`.
 *
 * @example
 * ```ts
 * const client = new EventsClient(process.env.WORKSPACE_PUBLISHABLE_KEY!, { apiBaseUrl: "https://events.example.com/api/v1" });
 * await client.emit({ event: "user.signed_up", payload: { email: "a@b.com" } });
 * client.emitBatch([{ event: "user.signed_up", payload: { email: "a@b.com" } }], {}, (err, result) => {});
 * ```
 */
export class EventsClient {
  private readonly key: string;
  private readonly base: string;
  private readonly timeout: number;
  private readonly headers: Record<string, string>;
  private readonly debug: boolean;
  private readonly maxPayloadBytes: number;
  private readonly $fetch: ReturnType<typeof makeFetch>;

  constructor(publishableKey: string, options: EventsClientOptions = {}) {
    if (typeof publishableKey !== "string" || !KEY.test(publishableKey)) {
      throw new MeshworkValidationError("publishableKey", "invalid_publishable_key", "expected a mw_pub_… or mesh_pub_… key");
    }
    if (typeof options !== "object" || options === null) {
      throw new MeshworkValidationError("options", "invalid_option", "must be an object");
    }
    if (options.version !== undefined && options.version !== "v1") {
      throw new MeshworkValidationError("options.version", "invalid_option", 'only "v1" is supported');
    }
    checkHeaders(options.headers, "options.headers");
    this.key = publishableKey;
    this.base = (options.apiBaseUrl ?? "https://api.meshes.io/api/v1").replace(/\/+$/, "");
    this.timeout = checkTimeout(options.timeout ?? 5000, "options.timeout");
    this.headers = { ...options.headers };
    this.debug = options.debug === true;
    this.maxPayloadBytes = options.maxPayloadBytes ?? 32 * 1024;
    this.$fetch = makeFetch(options.fetch);
  }

  /** Emits one event with `POST {apiBaseUrl}/events`; resolves with `{ event }`. */
  emit(event: EventInput, options?: EventsRequestOptions): Promise<CreateEventResult>;
  emit(event: EventInput, options: EventsRequestOptions | undefined, callback: EventsCallback<CreateEventResult>): undefined;
  emit(
    event: EventInput,
    options?: EventsRequestOptions,
    callback?: EventsCallback<CreateEventResult>,
  ): Promise<CreateEventResult> | undefined {
    const { body } = prepareEvent(event, { maxPayloadBytes: this.maxPayloadBytes });
    return this.request<CreateEventResult>("/events", body, undefined, options, callback);
  }

  /** Emits 1–100 events with `POST {apiBaseUrl}/events/bulk`; resolves with `{ count, error_count?, records }`, 207 included. */
  emitBatch(events: EventInput[], options?: EventsRequestOptions): Promise<BulkResult>;
  emitBatch(events: EventInput[], options: EventsRequestOptions | undefined, callback: EventsCallback<BulkResult>): undefined;
  emitBatch(
    events: EventInput[],
    options?: EventsRequestOptions,
    callback?: EventsCallback<BulkResult>,
  ): Promise<BulkResult> | undefined {
    if (!Array.isArray(events) || events.length < 1 || events.length > 100) {
      throw new MeshworkValidationError(
        "events",
        "invalid_batch",
        `a batch holds 1 to 100 events, got ${Array.isArray(events) ? events.length : typeof events}`,
      );
    }
    const bodies = events.map((event, i) => {
      try {
        return prepareEvent(event, { maxPayloadBytes: this.maxPayloadBytes }).body;
      } catch (error) {
        if (!MeshworkValidationError.isInstance(error)) throw error;
        throw new MeshworkValidationError(`events[${i}].${error.field}`, error.code, error.message.slice(error.field.length + 2));
      }
    });
    return this.request<BulkResult>("/events/bulk", `[${bodies.join(",")}]`, uuidv7(), options, callback);
  }

  private request<T>(
    path: string,
    body: string,
    idempotencyKey: string | undefined,
    options: EventsRequestOptions | undefined,
    callback: EventsCallback<T> | undefined,
  ): Promise<T> | undefined {
    const timeout = checkTimeout(options?.timeout ?? this.timeout, "options.timeout");
    const headers: Record<string, string> = {
      ...this.headers,
      ...withoutProtected(options?.headers),
      "Content-Type": "application/json",
      Accept: "application/json",
      "X-Meshes-Publishable-Key": this.key,
    };
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    const controller = new AbortController();
    const timedOut = new MeshworkDeliveryError(`no answer within ${timeout} ms`, { code: "timeout", retryable: true });
    const timer = setTimeout(() => controller.abort(timedOut), timeout);
    (timer as { unref?: () => void }).unref?.();
    if (this.debug) console.debug("[meshwork] POST", this.base + path);
    const promise = post(this.$fetch, this.base + path, body, headers, controller.signal)
      .then(
        (outcome) => {
          if (outcome.kind === "ok") return outcome.data as T;
          throw outcome.error;
        },
        (reason: unknown) => {
          throw reason === timedOut ? timedOut : new MeshworkDeliveryError(`request failed: ${String(reason)}`, { code: "network_error", retryable: true, cause: reason });
        },
      )
      .finally(() => clearTimeout(timer));
    if (this.debug) promise.catch((error: unknown) => console.error("[meshwork] request failed", error));
    if (!callback) return promise;
    promise.then(
      (data) => callback(null, data),
      (error: MeshworkError) => callback(error),
    ).catch((error: unknown) => {
      // A throwing callback surfaces like one thrown from a synchronous API, not as an unhandled rejection.
      queueMicrotask(() => {
        throw error;
      });
    });
    return undefined;
  }
}

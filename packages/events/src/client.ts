import { MeshworkDeliveryError, MeshworkError, MeshworkValidationError } from "./errors.js";
import { byteLength, idOf, isPlainObject, prepareEvent } from "./prepare-event.js";
import { backoff, isFailedRecord, isRetryableRecord, type SendOutcome } from "./retry.js";
import { engineTransport, httpTransport, type Transport } from "./transport.js";
import type {
  ClientEventMap,
  ClientOptions,
  CloseReport,
  EventMap,
  FailedRecord,
  MeshworkClient,
  QueuedEvent,
  StoredEvent,
  WireEvent,
} from "./types.js";
import { uuidv7 } from "./uuid.js";

interface Entry {
  /** Only when the caller gave it (see `idOf`). */
  id?: string | undefined;
  body: string;
  bytes: number;
  /** Emit order; events recovered from a durable queue get negative numbers so they sort first. */
  seq: number;
  promise?: Promise<StoredEvent>;
  /** Settles `promise`, a rejection included (given a rejected promise): one function kept per event, not two. */
  resolve?: (receipt: StoredEvent | Promise<never>) => void;
}

interface Batch {
  entries: Entry[];
  /** Idempotency-Key: kept across retries of exactly this set of events, renewed when the set changes. */
  key: string;
  attempts: number;
  firstAt: number;
  notBefore: number;
  /** Circuit epoch when last sent: a failure from an older epoch does not count against the circuit again. */
  epoch: number;
  error?: MeshworkError;
  controller?: AbortController;
  /** Settled by `close`; a late answer is ignored. */
  done?: boolean;
  /** Body bytes while sent with `keepalive`. */
  kept?: number;
  /** A copy went with `keepalive` when the page was hidden. */
  copied?: boolean;
}

interface Waiter {
  seq: number;
  resolve: () => void;
}

type Listener = (event: never) => void;

const noop = () => {};

// `new Promise(capture)` hands its resolver over without allocating a closure per `emit`.
let captured: Entry["resolve"];
const capture = (resolve: NonNullable<Entry["resolve"]>) => {
  captured = resolve;
};

/** Failed requests in a row that open the circuit. */
const CIRCUIT_THRESHOLD = 3;

/** Bytes of `keepalive` bodies in flight at once: browsers refuse more than 64 KiB in total. */
const KEEPALIVE_BYTES = 60_000;

const unref = <T>(timer: T, keepAlive = false): T => {
  if (!keepAlive) (timer as { unref?: () => void }).unref?.();
  return timer;
};

function option(options: Record<string, unknown>, name: string, fallback: number, min: number, max = Infinity): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= min && value <= max)) {
    throw new MeshworkValidationError(name, "invalid_option", `must be a number from ${min} to ${max}`);
  }
  return value;
}

const parse = (entry: Entry): WireEvent => JSON.parse(entry.body) as WireEvent;

/**
 * Creates an events client: `emit` validates and queues, batches go out by count, bytes and
 * interval to the hosted `endpoint` or an in-process `engine`, with retries, a shared circuit
 * and a bounded queue. Type it with an event map to check names and payloads at compile time.
 *
 * @example
 * ```ts
 * const meshwork = createClient<{ "user.signup": { email: string } }>({
 *   publishableKey: process.env.WORKSPACE_PUBLISHABLE_KEY!,
 *   endpoint: "https://events.example.com",
 * });
 * meshwork.emit({ event: "user.signup", payload: { email: "alex@northstar.io" } });
 * const report = await meshwork.close({ timeoutMs: 5000 });
 * ```
 */
export function createClient<Events extends { [K in keyof Events]: object } = EventMap>(
  options: ClientOptions<Events>,
): MeshworkClient<Events> {
  if (!isPlainObject(options)) throw new MeshworkValidationError("options", "invalid_option", "must be an object");
  const { publishableKey, engine, endpoint, queue, waitUntil, schemas } = options;
  if (typeof publishableKey !== "string" || publishableKey.trim() === "") {
    throw new MeshworkValidationError("publishableKey", "invalid_option", "must be a non-empty string");
  }
  if ((engine === undefined) === (endpoint === undefined)) {
    throw new MeshworkValidationError("endpoint", "invalid_option", "give exactly one of `endpoint` (hosted) or `engine` (in-process)");
  }
  if (engine !== undefined && typeof engine?.ingest !== "function") {
    throw new MeshworkValidationError("engine", "invalid_option", "must have an `ingest(events, { publishableKey })` method");
  }
  if (endpoint !== undefined && (typeof endpoint !== "string" || !/^https?:\/\//.test(endpoint))) {
    throw new MeshworkValidationError("endpoint", "invalid_option", "must be an http(s) URL");
  }
  const flushAt = Math.floor(option(options, "flushAt", 100, 1, 100));
  const flushIntervalMs = option(options, "flushIntervalMs", 1000, 0);
  const maxBatchBytes = option(options, "maxBatchBytes", 512_000, 64);
  const maxInFlight = Math.floor(option(options, "maxInFlight", 4, 1));
  const maxQueueEvents = option(options, "maxQueueEvents", 10_000, 1);
  const maxQueueBytes = option(options, "maxQueueBytes", 16 * 1024 * 1024, 64);
  const timeoutMs = option(options, "timeoutMs", 10_000, 1);
  const maxPayloadBytes = option(options, "maxPayloadBytes", 32 * 1024, 2);
  const retryOptions = (options.retry ?? {}) as Record<string, unknown>;
  const maxAttempts = Math.floor(option(retryOptions, "maxAttempts", 10, 1));
  const baseDelayMs = option(retryOptions, "baseDelayMs", 500, 0);
  const maxDelayMs = option(retryOptions, "maxDelayMs", 60_000, 0);
  const maxElapsedMs = option(retryOptions, "maxElapsedMs", 12 * 3600_000, 0);
  const maxRetryAfterMs = option(retryOptions, "maxRetryAfterMs", 300_000, 0);
  const overflow = options.overflow ?? "drop-oldest";
  if (overflow !== "drop-oldest" && overflow !== "drop-newest" && overflow !== "reject") {
    throw new MeshworkValidationError("overflow", "invalid_option", 'must be "drop-oldest", "drop-newest" or "reject"');
  }
  const prepareOptions = { maxPayloadBytes, schemas: schemas as Record<string, never> | undefined };
  const transport: Transport = engine
    ? engineTransport(engine, publishableKey)
    : httpTransport({ endpoint: endpoint!, publishableKey, headers: options.headers, fetch: options.fetch });

  // Events not yet cut into a batch, oldest first, from `head` on.
  let buf: Array<Entry | undefined> = [];
  let head = 0;
  let bufBytes = 0;
  const retries: Batch[] = [];
  const inFlight = new Set<Batch>();
  let held = 0;
  let heldBytes = 0;
  let seq = 0;
  let flushSeq = 0;
  let sent = 0;
  let failed = 0;
  let dropped = 0;

  // The shared circuit. A failed batch first backs off on its own; after CIRCUIT_THRESHOLD failed
  // requests in a row (or a Retry-After) the circuit opens: nothing is sent until `openUntil`,
  // then one probe goes alone, and only its success lets the other batches through again.
  let streak = 0;
  let open = false;
  let openUntil = 0;
  let epoch = 0;
  let probe: Batch | undefined;

  let state: "open" | "closing" | "closed" = "open";
  let closing: Promise<CloseReport> | undefined;
  let loading = false;
  let pumpQueued = false;
  let flushTimer: ReturnType<typeof setTimeout> | undefined;
  let wakeTimer: ReturnType<typeof setTimeout> | undefined;
  let wakeAt = Infinity;
  let waiters: Waiter[] = [];
  let idleRegistered = false;
  let removals: string[] = [];
  let kept = 0;
  const listeners: { [K in keyof ClientEventMap]?: Set<Listener> } = {};

  const count = () => buf.length - head;

  function fire<K extends keyof ClientEventMap>(type: K, make: () => ClientEventMap[K]): void {
    const set = listeners[type];
    if (!set?.size) return;
    const payload = make();
    for (const listener of set) {
      try {
        (listener as (event: ClientEventMap[K]) => void)(payload);
      } catch {
        // A throwing listener must not break delivery.
      }
    }
  }

  function release(entry: Entry): void {
    held--;
    heldBytes -= entry.bytes;
    if (queue) removals.push(idOf(entry));
  }

  /** Rejects an event's promise, marking it handled first so an un-awaited emit never surfaces. */
  function rejectEntry(entry: Entry, error: MeshworkError): void {
    if (!entry.resolve) return;
    entry.promise!.catch(noop);
    const rejected = Promise.reject(error);
    rejected.catch(noop);
    entry.resolve(rejected);
  }

  function deliver(entry: Entry, receipt: StoredEvent): void {
    release(entry);
    sent++;
    entry.resolve?.(receipt);
    fire("delivered", () => ({ event: parse(entry), receipt }));
  }

  function fail(entry: Entry, error: MeshworkError): void {
    release(entry);
    failed++;
    rejectEntry(entry, error);
    fire("failed", () => ({ event: parse(entry), error }));
  }

  const queueFull = () =>
    new MeshworkDeliveryError(`dropped: the queue is full (${maxQueueEvents} events / ${maxQueueBytes} bytes)`, {
      code: "queue_full",
      retryable: true,
    });

  function drop(entry: Entry): void {
    release(entry);
    dropped++;
    const error = queueFull();
    rejectEntry(entry, error);
    fire("dropped", () => ({ event: parse(entry), reason: "queue_full", error }));
  }

  /** After a state change: forget acknowledged events durably, resolve flush waiters. */
  function commit(): void {
    if (removals.length) {
      const ids = removals;
      removals = [];
      try {
        queue?.remove(ids);
      } catch {
        // Not removed: at worst they are sent again after a restart, with the same ids.
      }
    }
    if (!waiters.length) return;
    let min = count() ? buf[head]!.seq : Infinity;
    for (const batch of retries) min = Math.min(min, batch.entries[0]?.seq ?? Infinity);
    for (const batch of inFlight) min = Math.min(min, batch.entries[0]?.seq ?? Infinity);
    const waiting = waiters;
    waiters = [];
    for (const waiter of waiting) {
      if (waiter.seq < min || held === 0) waiter.resolve();
      else waiters.push(waiter);
    }
  }

  function schedule(): void {
    if (pumpQueued) return;
    pumpQueued = true;
    queueMicrotask(pump);
  }

  function arm(at: number): void {
    if (wakeTimer !== undefined && wakeAt <= at) return;
    clearTimeout(wakeTimer);
    wakeAt = at;
    // Kept alive only while someone awaits a flush; otherwise a retry never holds the process open.
    wakeTimer = unref(
      setTimeout(() => {
        wakeTimer = undefined;
        wakeAt = Infinity;
        pump();
      }, Math.max(0, at - Date.now())),
      waiters.length > 0,
    );
  }

  function insertRetry(batch: Batch): void {
    const first = batch.entries[0]!.seq;
    let i = retries.length;
    while (i > 0 && retries[i - 1]!.entries[0]!.seq > first) i--;
    retries.splice(i, 0, batch);
  }

  const newBatch = (entries: Entry[], from?: Batch): Batch => ({
    entries,
    key: uuidv7(),
    attempts: from?.attempts ?? 0,
    firstAt: from?.firstAt ?? 0,
    notBefore: 0,
    epoch: 0,
  });

  function giveUp(batch: Batch, error: MeshworkError): void {
    const final = new MeshworkDeliveryError(`gave up after ${batch.attempts} attempt(s): ${error.message}`, {
      code: "retries_exhausted",
      retryable: error.retryable,
      cause: error,
      ...((error as MeshworkDeliveryError).status !== undefined && { status: (error as MeshworkDeliveryError).status }),
    });
    for (const entry of batch.entries) fail(entry, final);
  }

  /** Puts a batch back to wait; gives it up once out of attempts or time. */
  function requeue(batch: Batch, error: MeshworkError, notBefore: number, now: number): void {
    if (batch.attempts >= maxAttempts || now - batch.firstAt >= maxElapsedMs) return giveUp(batch, error);
    batch.error = error;
    batch.notBefore = notBefore;
    insertRetry(batch);
    fire("retry", () => ({
      ids: batch.entries.map(idOf),
      attempt: batch.attempts,
      delayMs: Math.max(0, Math.max(notBefore, open ? openUntil : 0) - now),
      error,
    }));
  }

  function cut(limit = maxBatchBytes): Batch {
    const entries: Entry[] = [];
    let bytes = 2;
    while (head < buf.length && entries.length < flushAt) {
      const entry = buf[head]!;
      const size = bytes + entry.bytes + (entries.length ? 1 : 0);
      if (entries.length && size > limit) break;
      entries.push(entry);
      bytes = size;
      bufBytes -= entry.bytes;
      buf[head++] = undefined;
    }
    if (head === buf.length) {
      buf = [];
      head = 0;
    } else if (head > 4096 && head * 2 > buf.length) {
      buf = buf.slice(head);
      head = 0;
    }
    return newBatch(entries);
  }

  function nextBatch(now: number): Batch | undefined {
    let wake = Infinity;
    for (let i = 0; i < retries.length; i++) {
      const batch = retries[i]!;
      if (now - batch.firstAt >= maxElapsedMs) {
        retries.splice(i--, 1);
        giveUp(batch, batch.error!);
      } else if (batch.notBefore <= now) {
        retries.splice(i, 1);
        return batch;
      } else wake = Math.min(wake, batch.notBefore);
    }
    if (wake < Infinity) arm(wake);
    const n = count();
    if (n && (n >= flushAt || bufBytes + n + 1 >= maxBatchBytes || buf[head]!.seq <= flushSeq)) return cut();
    return undefined;
  }

  function pump(): void {
    pumpQueued = false;
    if (state === "closed" || loading) return;
    const now = Date.now();
    while (inFlight.size < maxInFlight && !probe) {
      if (open && openUntil > now) {
        arm(openUntil);
        break;
      }
      const batch = nextBatch(now);
      if (!batch) break;
      send(batch, now);
    }
    commit();
  }

  /** The JSON array body of a batch and its size in bytes. */
  function bodyOf(batch: Batch): [string, number] {
    let body = "[";
    let bytes = 1;
    for (let i = 0; i < batch.entries.length; i++) {
      body += (i ? "," : "") + batch.entries[i]!.body;
      bytes += batch.entries[i]!.bytes + 1;
    }
    return [body + "]", bytes];
  }

  function send(batch: Batch, now: number, keepalive?: boolean): void {
    inFlight.add(batch);
    batch.attempts++;
    batch.firstAt ||= now;
    batch.epoch = epoch;
    if (open) probe = batch;
    const controller = new AbortController();
    batch.controller = controller;
    const timer = unref(
      setTimeout(() => controller.abort(new MeshworkDeliveryError(`no answer within ${timeoutMs} ms`, { code: "timeout", retryable: true })), timeoutMs),
    );
    const [body, bytes] = bodyOf(batch);
    if (keepalive) kept += batch.kept = bytes;
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason as unknown), { once: true });
    });
    Promise.race([transport.send(body, batch.key, controller.signal, keepalive), aborted]).then(
      (outcome) => settle(batch, timer, outcome),
      (reason: unknown) =>
        settle(batch, timer, {
          kind: "retry",
          error: MeshworkError.isInstance(reason)
            ? reason
            : new MeshworkDeliveryError(`send failed: ${String(reason)}`, { code: "network_error", retryable: true, cause: reason }),
        }),
    ).catch(noop);
  }

  function settle(batch: Batch, timer: ReturnType<typeof setTimeout>, outcome: SendOutcome): void {
    clearTimeout(timer);
    inFlight.delete(batch);
    kept -= batch.kept ?? 0;
    batch.kept = 0;
    const probed = probe === batch;
    if (probed) probe = undefined;
    if (batch.done || state === "closed") return;
    const now = Date.now();
    const current = batch.epoch === epoch;
    if (outcome.kind === "retry") {
      const retryAfter = outcome.retryAfterMs === undefined ? undefined : Math.min(outcome.retryAfterMs, maxRetryAfterMs);
      if (current && (++streak >= CIRCUIT_THRESHOLD || open || retryAfter !== undefined)) {
        open = true;
        epoch++;
        openUntil = now + (retryAfter ?? backoff(Math.max(1, streak - CIRCUIT_THRESHOLD + 1), baseDelayMs, maxDelayMs));
      } else if (retryAfter !== undefined) {
        open = true;
        openUntil = Math.max(openUntil, now + retryAfter);
      }
      // A probe tests the endpoint, not its batch: while the circuit is open its failure does not
      // use up the batch's attempts, or a long outage would fail the oldest events (maxElapsedMs
      // still bounds it).
      if (probed) batch.attempts--;
      // Below the threshold the delay follows the endpoint's failure streak, not one batch's bad luck.
      requeue(batch, outcome.error, open ? 0 : now + backoff(Math.min(batch.attempts, streak || 1), baseDelayMs, maxDelayMs), now);
    } else {
      if (current) {
        streak = 0;
        open = false;
        openUntil = 0;
      }
      if (outcome.kind === "fail") {
        if (outcome.status === 413 && batch.entries.length > 1) {
          const half = Math.ceil(batch.entries.length / 2);
          for (const part of [batch.entries.slice(0, half), batch.entries.slice(half)]) {
            const smaller = newBatch(part, batch);
            smaller.error = outcome.error;
            insertRetry(smaller);
          }
        } else {
          for (const entry of batch.entries) fail(entry, outcome.error);
        }
      } else {
        const again: Entry[] = [];
        const records = outcome.records;
        batch.entries.forEach((entry, i) => {
          const record = records?.[i];
          if (record === undefined || record === null) {
            if (outcome.status === 207) again.push(entry);
            else deliver(entry, { id: idOf(entry), event: parse(entry).event });
          } else if (!isFailedRecord(record)) {
            deliver(entry, record as StoredEvent);
          } else if (isRetryableRecord(record as FailedRecord)) {
            again.push(entry);
          } else {
            fail(
              entry,
              new MeshworkDeliveryError((record as FailedRecord).message ?? "the event was refused", {
                code: "rejected",
                status: outcome.status,
                data: { status: outcome.status, statusText: "", data: record },
              }),
            );
          }
        });
        if (again.length) {
          const error = new MeshworkDeliveryError(`${again.length} of ${batch.entries.length} events were not stored`, {
            code: "partial_failure",
            retryable: true,
            status: outcome.status,
          });
          requeue(newBatch(again, batch), error, now + backoff(batch.attempts, baseDelayMs, maxDelayMs), now);
        }
      }
    }
    pump();
  }

  function evictOldest(): boolean {
    const oldest = retries[0];
    if (oldest && (head === buf.length || oldest.entries[0]!.seq < buf[head]!.seq)) {
      const entry = oldest.entries.shift()!;
      oldest.key = uuidv7();
      if (!oldest.entries.length) retries.shift();
      drop(entry);
      return true;
    }
    if (head === buf.length) return false;
    const entry = buf[head]!;
    buf[head++] = undefined;
    bufBytes -= entry.bytes;
    drop(entry);
    return true;
  }

  function push(entry: Entry): void {
    buf.push(entry);
    bufBytes += entry.bytes;
    held++;
    heldBytes += entry.bytes;
  }

  function load(events: QueuedEvent[]): void {
    const loaded: Entry[] = events.map((event, i) => ({
      id: event.id,
      body: event.body,
      bytes: byteLength(event.body),
      seq: i - events.length,
    }));
    for (const entry of loaded) {
      bufBytes += entry.bytes;
      held++;
      heldBytes += entry.bytes;
    }
    buf = [...loaded, ...buf.slice(head)];
    head = 0;
  }

  /**
   * The page is hidden or going away: what is queued or waiting to retry leaves now with
   * `keepalive` (backoff and `maxInFlight` aside, within the browsers' 64 KiB), and a copy of each
   * batch already in flight goes too, with the same Idempotency-Key, in case the page dies before
   * its answer; the server stores each event id once.
   */
  function hide(): void {
    if (state === "closed" || loading) return;
    const now = Date.now();
    for (const batch of inFlight) {
      const [body, bytes] = bodyOf(batch);
      if (batch.kept || batch.copied || kept + bytes > KEEPALIVE_BYTES) continue;
      batch.copied = true;
      kept += bytes;
      transport
        .send(body, batch.key, new AbortController().signal, true)
        .finally(() => (kept -= bytes))
        .catch(noop);
    }
    for (const batch of retries.splice(0)) {
      if (kept + bodyOf(batch)[1] > KEEPALIVE_BYTES) insertRetry(batch);
      else send(batch, now, true);
    }
    while (count() && kept + buf[head]!.bytes + 2 <= KEEPALIVE_BYTES) send(cut(KEEPALIVE_BYTES - kept), now, true);
    commit();
  }

  function idle(): Promise<void> {
    return new Promise((resolve) => waiters.push({ seq: Infinity, resolve }));
  }

  function emit(input: unknown): Promise<StoredEvent> {
    if (state !== "open") {
      throw new MeshworkError("the client is closed: emit() cannot be called after close()", { code: "client_closed" });
    }
    const prepared = prepareEvent(input, prepareOptions);
    const { id, body, bytes } = prepared;
    if (bytes + 2 > maxBatchBytes) {
      throw new MeshworkValidationError("payload", "payload_too_large", `the event is ${bytes} bytes serialized, over maxBatchBytes (${maxBatchBytes})`);
    }
    if (held >= maxQueueEvents || heldBytes + bytes > maxQueueBytes) {
      if (overflow === "reject") {
        throw new MeshworkError(`the queue is full (${maxQueueEvents} events / ${maxQueueBytes} bytes)`, { code: "queue_full", retryable: true });
      }
      if (overflow === "drop-oldest") {
        while ((held >= maxQueueEvents || heldBytes + bytes > maxQueueBytes) && evictOldest());
      }
      if (held >= maxQueueEvents || heldBytes + bytes > maxQueueBytes) {
        dropped++;
        const error = queueFull();
        fire("dropped", () => ({ event: JSON.parse(body) as WireEvent, reason: "queue_full", error }));
        commit();
        const rejected = Promise.reject(error);
        rejected.catch(noop);
        return rejected;
      }
      commit();
    }
    if (queue) {
      try {
        queue.add({ id: idOf(prepared), body });
      } catch (cause) {
        throw new MeshworkError(`the durable queue could not store the event: ${String(cause)}`, { code: "queue_error", retryable: true, cause });
      }
    }
    // Marked handled only when it rejects (see rejectEntry): a catch branch per emit costs GC time.
    const promise = new Promise<StoredEvent>(capture);
    const entry: Entry = { id, body, bytes, seq: ++seq, promise, resolve: captured };
    push(entry);
    if (count() >= flushAt || bufBytes + count() >= maxBatchBytes) schedule();
    flushTimer ??= unref(
      setTimeout(() => {
        flushTimer = undefined;
        flushSeq = seq;
        pump();
      }, flushIntervalMs),
    );
    if (waitUntil && !idleRegistered) {
      idleRegistered = true;
      const settled = idle().then(() => {
        idleRegistered = false;
      });
      try {
        waitUntil(settled);
      } catch {
        // The host refused it; delivery goes on regardless.
      }
    }
    return promise;
  }

  function flush(): Promise<void> {
    if (held === 0 || state === "closed") return Promise.resolve();
    flushSeq = seq;
    (wakeTimer as { ref?: () => void } | undefined)?.ref?.();
    const done = new Promise<void>((resolve) => waiters.push({ seq, resolve }));
    schedule();
    return done;
  }

  async function shutdown(timeoutMs: number): Promise<CloseReport> {
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<void>((resolve) => {
      deadline = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(flushTimer);
    await Promise.race([ready, expired]);
    if (held > 0) await Promise.race([flush(), expired]);
    clearTimeout(deadline);
    state = "closed";
    unlisten();
    clearTimeout(wakeTimer);
    const closed = new MeshworkDeliveryError("the client closed before the event was delivered", { code: "client_closed", retryable: true });
    const left: Entry[] = [];
    for (let i = head; i < buf.length; i++) left.push(buf[i]!);
    for (const batch of retries) left.push(...batch.entries);
    for (const batch of inFlight) {
      batch.done = true;
      batch.controller?.abort(closed);
      left.push(...batch.entries);
    }
    buf = [];
    head = 0;
    retries.length = 0;
    held = heldBytes = bufBytes = 0;
    // Pending events stay in a durable queue, to be sent by the next process.
    for (const entry of left) rejectEntry(entry, closed);
    for (const waiter of waiters) waiter.resolve();
    waiters = [];
    try {
      await queue?.close?.();
    } catch {
      // Closing storage must not make close() reject.
    }
    return { sent, failed, dropped, pending: left.length };
  }

  function close(closeOptions: { timeoutMs?: number } = {}): Promise<CloseReport> {
    if (!closing) {
      state = "closing";
      const report = () => ({ sent, failed, dropped, pending: held });
      closing = shutdown(closeOptions.timeoutMs ?? 10_000).catch(report);
    }
    return closing;
  }

  // Browsers: flush when the page is hidden or unloaded (hosted mode; `flushOnHide: false` opts out).
  type Target = { addEventListener(type: string, listener: () => void): void; removeEventListener(type: string, listener: () => void): void };
  const win = globalThis as Partial<Target> & { document?: Target & { visibilityState?: string } };
  const doc = win.document;
  const onHide = () => {
    if (doc!.visibilityState === "hidden") hide();
  };
  const listening = !engine && options.flushOnHide !== false && typeof doc?.addEventListener === "function" && typeof win.addEventListener === "function";
  const listen = (method: "addEventListener" | "removeEventListener") => {
    if (!listening) return;
    doc![method]("visibilitychange", onHide);
    win[method]!("pagehide", hide);
  };
  const unlisten = () => {
    listen("removeEventListener");
    nodeProcess?.off?.("beforeExit", onBeforeExit);
  };
  listen("addEventListener");

  // Node: the client's timers never hold the process open, so when nothing else does, send what
  // is queued once instead of exiting with it. A retry after that never holds the process either:
  // call close() to wait for delivery.
  const nodeProcess = (globalThis as { process?: { on?(type: string, listener: () => void): void; off?(type: string, listener: () => void): void } }).process;
  let sentAtExit = -1;
  const onBeforeExit = () => {
    if (held === 0 || state !== "open" || sentAtExit === seq) return;
    sentAtExit = flushSeq = seq;
    schedule();
  };
  nodeProcess?.on?.("beforeExit", onBeforeExit);

  let ready: Promise<void> = Promise.resolve();
  if (queue) {
    const stored = queue.load();
    if (Array.isArray(stored)) {
      load(stored);
    } else {
      loading = true;
      ready = Promise.resolve(stored).then(load, noop).then(() => {
        loading = false;
        schedule();
      });
    }
    if (held) schedule();
  }

  return {
    emit: emit as MeshworkClient<Events>["emit"],
    emitAndFlush(event) {
      const receipt = emit(event);
      void flush();
      return receipt;
    },
    flush,
    close,
    on(type, listener) {
      (listeners[type] ??= new Set()).add(listener as Listener);
      return () => listeners[type]?.delete(listener as Listener);
    },
    off(type, listener) {
      listeners[type]?.delete(listener as Listener);
    },
  };
}

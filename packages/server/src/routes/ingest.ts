import { createHash } from "node:crypto";
import type { FailedRecord, IngestEvent, IngestResult } from "@meshwork/rules";
import type { Context, Hono, MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { httpError, isObject, limitBody, parseJson } from "../http.js";
import type { ServerContext } from "./context.js";

/** The most events one bulk request may carry (the Meshes limit). */
export const MAX_BULK_EVENTS = 100;
/** Payloads nested deeper than this are refused (they cannot be stored or mapped safely). */
export const MAX_PAYLOAD_DEPTH = 64;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

type Variables = { workspace: string; publishableKey: string };
type Answer = { status: 201 | 207 | 400; body: string };
type Keyed = { fingerprint: string; answer: Answer; replayed: boolean };

function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (limit <= 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestedDeeperThan(item, limit - 1)) return true;
  } else {
    for (const key in value) if (nestedDeeperThan((value as Record<string, unknown>)[key], limit - 1)) return true;
  }
  return false;
}

/** A lone UTF-16 surrogate: such a string cannot be stored as text (it would come back altered). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Server-side checks the engine does not make; answers the failed record or undefined. */
function precheck(raw: unknown): FailedRecord | undefined {
  if (!isObject(raw)) return undefined;
  for (const field of ["event", "id", "resource", "resource_id", "workspace"] as const) {
    const value = raw[field];
    if (typeof value === "string" && LONE_SURROGATE.test(value)) {
      return { message: `${field}: is not valid Unicode (it holds a lone surrogate)`, error: "invalid_event", field, retryable: false };
    }
  }
  if (isObject(raw.payload) && nestedDeeperThan(raw.payload, MAX_PAYLOAD_DEPTH)) {
    return { message: `payload: is nested deeper than ${MAX_PAYLOAD_DEPTH} levels`, error: "invalid_event", field: "payload", retryable: false };
  }
  return undefined;
}

/** The ingestion endpoints of the Meshes events API: `POST /api/v1/events` and `POST /api/v1/events/bulk`. */
export function registerIngest(app: Hono, ctx: ServerContext): void {
  const { engine } = ctx;
  const inFlight = new Map<string, Promise<Keyed>>();
  // engine.stats() walks every connection: read it at most every 50 ms, not on every request.
  let open = { at: -Infinity, count: 0 };
  const openDeliveries = () => {
    const now = performance.now();
    if (now - open.at > 50) open = { at: now, count: engine.stats().open };
    return open.count;
  };

  if (ctx.cors) {
    const handler = cors({
      origin: ctx.cors.origin ?? "*",
      allowMethods: ["POST", "OPTIONS"],
      allowHeaders: ["Content-Type", "X-Meshes-Publishable-Key", "Idempotency-Key"],
      exposeHeaders: ["Retry-After", "Idempotent-Replayed"],
      maxAge: ctx.cors.maxAge ?? 600,
    });
    // Only ingestion is for browsers (GET /api/v1/events is the management API), and only
    // browsers send Origin: other clients skip the middleware, which would otherwise build the
    // response twice to add a header they ignore.
    const ingestCors: MiddlewareHandler = (c, next) =>
      (c.req.method === "POST" || c.req.method === "OPTIONS") && c.req.header("origin") !== undefined ? handler(c, next) : next();
    app.use("/api/v1/events", ingestCors);
    app.use("/api/v1/events/bulk", ingestCors);
  }

  const guard: MiddlewareHandler<{ Variables: Variables }> = async (c, next) => {
    if (ctx.isDraining()) throw httpError(503, "unavailable", "the server is shutting down; send the events again shortly", undefined, { "retry-after": "5", connection: "close" });
    // The query-string form is what browsers send as a page goes away (a CORS-simple keepalive
    // request: a custom header would need a preflight, which Chromium does not follow at unload).
    const publishableKey = c.req.header("x-meshes-publishable-key") ?? c.req.query("publishable_key");
    if (!publishableKey) throw httpError(401, "unauthorized", "missing X-Meshes-Publishable-Key header (the workspace's publishable key)", "X-Meshes-Publishable-Key");
    const workspace = engine.workspaceOf(publishableKey);
    if (workspace === undefined) throw httpError(401, "unauthorized", "unknown publishable key: it names no workspace of this server", "X-Meshes-Publishable-Key");
    if (ctx.rateLimiter) {
      const waitMs = ctx.rateLimiter.take(publishableKey, Date.now());
      if (waitMs > 0) {
        throw httpError(429, "rate_limited", "too many requests for this publishable key; retry after the number of seconds in Retry-After", undefined, {
          "retry-after": String(Math.ceil(waitMs / 1000)),
        });
      }
    }
    if (ctx.maxOpenDeliveries !== undefined && openDeliveries() >= ctx.maxOpenDeliveries) {
      throw httpError(503, "backlogged", `${ctx.maxOpenDeliveries} deliveries are waiting to be sent; send the events again shortly`, undefined, { "retry-after": "5" });
    }
    c.set("workspace", workspace);
    c.set("publishableKey", publishableKey);
    await next();
  };
  const limit = limitBody(ctx.maxBodyBytes, `the request body is larger than ${ctx.maxBodyBytes} bytes; send fewer events per request`);

  /** Stores events (after the server's own checks) and answers the bulk body, records in request order. */
  async function store(events: unknown[], publishableKey: string): Promise<IngestResult> {
    let failures: Array<FailedRecord | undefined> | undefined;
    for (let i = 0; i < events.length; i++) {
      const failed = precheck(events[i]);
      if (failed) (failures ??= new Array(events.length))[i] = failed;
    }
    if (!failures) return engine.ingest(events as IngestEvent[], { publishableKey });
    const passing = events.filter((_, i) => failures[i] === undefined);
    const inner: IngestResult = passing.length ? await engine.ingest(passing as IngestEvent[], { publishableKey }) : { count: 0, records: [] };
    const records: IngestResult["records"] = [];
    let k = 0;
    let failed = 0;
    for (let i = 0; i < events.length; i++) {
      const record = failures[i] ?? inner.records[k++]!;
      if (failures[i] || "error" in record) failed++;
      records.push(record);
    }
    return { count: events.length - failed, error_count: failed, records };
  }

  async function handle(c: Context<{ Variables: Variables }>, route: "single" | "bulk"): Promise<Response> {
    const started = performance.now();
    const workspace = c.get("workspace");
    const publishableKey = c.get("publishableKey");
    const text = await c.req.text();
    const body = parseJson(text);
    let events: unknown[];
    if (route === "bulk") {
      if (!Array.isArray(body)) throw httpError(400, "invalid_request", `body: must be a JSON array of 1 to ${MAX_BULK_EVENTS} events`, "body");
      if (body.length === 0 || body.length > MAX_BULK_EVENTS) {
        throw httpError(400, "invalid_request", `body: must hold 1 to ${MAX_BULK_EVENTS} events, got ${body.length}`, "body");
      }
      events = body;
    } else {
      if (!isObject(body)) throw httpError(400, "invalid_request", "body: must be one event object { event, payload, resource?, resource_id?, id? }; send arrays to /api/v1/events/bulk", "body");
      events = [body];
    }

    const key = ctx.idempotency ? (c.req.header("idempotency-key") ?? c.req.query("idempotency_key")) : undefined;
    let answer: Answer;
    let replayed = false;
    if (key === undefined) {
      answer = await run();
    } else {
      if (!IDEMPOTENCY_KEY.test(key)) throw httpError(400, "invalid_request", "Idempotency-Key: must be 1 to 255 visible ASCII characters", "Idempotency-Key");
      const fingerprint = createHash("sha256").update(route).update("\n").update(text).digest("base64url");
      const slot = `${workspace}\u0000${key}`;
      const mismatch = () =>
        httpError(422, "idempotency_key_reused", "Idempotency-Key: was already used with a different request body; use a new key for a new request", "Idempotency-Key");
      // One answer per key at a time: a concurrent request with the same key waits for it.
      for (;;) {
        const pending = inFlight.get(slot);
        if (pending) {
          const first = await pending.catch(() => undefined);
          if (!first) continue;
          if (first.fingerprint !== fingerprint) throw mismatch();
          answer = first.answer;
          replayed = true;
          break;
        }
        const promise = (async (): Promise<Keyed> => {
          const cached = await ctx.idempotency!.get(workspace, key, Date.now() - ctx.idempotencyTtlMs);
          if (cached) return { fingerprint: cached.fingerprint, answer: { status: cached.status as Answer["status"], body: cached.body }, replayed: true };
          const result = await run();
          if (result.status !== 400) await ctx.idempotency!.put({ workspace, key, fingerprint, status: result.status, body: result.body, createdAt: Date.now() });
          return { fingerprint, answer: result, replayed: false };
        })();
        inFlight.set(slot, promise);
        let own: Keyed;
        try {
          own = await promise;
        } finally {
          inFlight.delete(slot);
        }
        if (own.fingerprint !== fingerprint) throw mismatch();
        answer = own.answer;
        replayed = own.replayed;
        break;
      }
    }
    ctx.metrics?.ingestDuration.observe({ route }, (performance.now() - started) / 1000);
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (replayed) headers["idempotent-replayed"] = "true";
    return c.body(answer.body, answer.status, headers);

    async function run(): Promise<Answer> {
      const result = await store(events, publishableKey);
      const failed = result.error_count ?? 0;
      if (ctx.metrics) {
        if (result.count) ctx.metrics.ingestedEvents.inc({ workspace, result: "accepted" }, result.count);
        if (failed) ctx.metrics.ingestedEvents.inc({ workspace, result: "rejected" }, failed);
      }
      if (route === "bulk") return { status: failed ? 207 : 201, body: JSON.stringify(result) };
      const record = result.records[0]!;
      if ("error" in record) return { status: 400, body: JSON.stringify(record) };
      return { status: 201, body: JSON.stringify({ event: record }) };
    }
  }

  app.post("/api/v1/events", guard, limit, (c) => handle(c, "single"));
  app.post("/api/v1/events/bulk", guard, limit, (c) => handle(c, "bulk"));
}

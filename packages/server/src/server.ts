import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { createEngine, memoryStore, sqliteStore, type EngineLogger } from "@meshwork/rules";
import { Hono } from "hono";
import { routePath } from "hono/route";
import { createAttemptGate } from "./attempt-gate.js";
import { createTokenVerifier } from "./auth.js";
import { registerDashboard } from "./dashboard.js";
import { registerDashboardApi } from "./dashboard-api.js";
import { createDeliveryStats } from "./dashboard-stats.js";
import { groupCommit } from "./group-commit.js";
import { resolveDestinations } from "./destinations.js";
import { MeshworkServerError } from "./errors.js";
import { problemResponse, toProblem } from "./http.js";
import { memoryIdempotencyStore, sqliteIdempotencyStore } from "./idempotency.js";
import { createLogger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { KeyedRateLimiter } from "./rate-limit.js";
import type { ServerContext } from "./routes/context.js";
import { registerIngest } from "./routes/ingest.js";
import { registerManagement } from "./routes/management.js";
import type { ListenInfo, ListenOptions, MeshworkServer, ServerOptions } from "./types.js";

const DAY_MS = 24 * 3600_000;
const PURGE_EVERY_MS = 10 * 60_000;

/**
 * Creates the Meshwork endpoint: the Meshes events API for ingestion (`POST /api/v1/events`,
 * `/api/v1/events/bulk`) with CORS, body limits, `Idempotency-Key` and per-key rate limits; the
 * management API on the Meshes paths behind machine tokens; `/healthz`, `/readyz` and
 * `/metrics`. Use `app.request()` in-process or `listen()` for a socket; `close()` drains.
 *
 * @example
 * import { createServer } from "@meshwork/server";
 * import config from "./meshwork.config.js";
 *
 * const server = createServer({ config, db: "meshwork.db" });
 * const { url } = await server.listen({ port: 8787 });
 * process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
 *
 * // in tests, no socket:
 * await server.start();
 * const res = await server.app.request("/api/v1/events", {
 *   method: "POST",
 *   headers: { "content-type": "application/json", "x-meshes-publishable-key": "mw_pub_…" },
 *   body: JSON.stringify({ event: "user.signup", payload: { email: "alex@northstar.io" } }),
 * });
 */
export function createServer(options: ServerOptions): MeshworkServer {
  const log = createLogger(options.logger);
  const baseStore = options.store ?? (options.db ? sqliteStore({ path: options.db }) : memoryStore());
  // On a durable store, no request leaves before its attempt is on record (see createAttemptGate).
  // A shared queue (Postgres) needs no gate: claiming a delivery commits its attempt's start.
  const gate = baseStore.name === "memory" || baseStore.queue ? undefined : createAttemptGate(log);
  const store = gate ? gate.store(groupCommit(baseStore)) : baseStore;
  const resolved = resolveDestinations(options.destinations, options.destinationOptions, options.builtInDestinations !== false);
  const destinations = gate ? resolved.map((d) => gate.destination(d)) : resolved;
  const engineLogger: EngineLogger = {
    warn: (message, detail) => log.warn({ detail: describe(detail) }, message),
    error: (message, detail) => log.error({ detail: describe(detail) }, message),
  };
  const engine = createEngine({ ...options.engine, config: options.config, destinations, store, logger: engineLogger });
  const config = engine.config;
  // The cache has a file of its own: in the engine's file, a keyed request's write would wait
  // for the engine's writer thread to let go of the lock (p99 371 ms against 46 ms under load).
  const idempotency =
    options.idempotency === false
      ? undefined
      : (options.idempotency ??
        (options.db && options.db !== ":memory:" ? sqliteIdempotencyStore({ path: `${options.db}-idempotency` }) : memoryIdempotencyStore()));
  const metrics = createMetrics(engine);
  engine.on("delivery", metrics.onDelivery);
  engine.on("error", (error) => log.error({ err: describe(error) }, "engine background error"));

  let state: "new" | "starting" | "running" | "draining" | "closed" = "new";
  let starting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let http: Server | undefined;
  let purgeTimer: ReturnType<typeof setInterval> | undefined;
  let active = 0;
  let idleWaiters: Array<() => void> = [];

  const ctx: ServerContext = {
    engine,
    config,
    log,
    metrics,
    idempotency,
    idempotencyTtlMs: options.idempotencyTtlMs ?? DAY_MS,
    rateLimiter: options.rateLimit === false ? undefined : new KeyedRateLimiter(options.rateLimit ?? { requests: 1000, perMs: 1000 }),
    managementRateLimiter: options.managementRateLimit === false ? undefined : new KeyedRateLimiter(options.managementRateLimit ?? { requests: 100, perMs: 1000 }),
    cors: options.cors === false ? undefined : (options.cors ?? {}),
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
    maxOpenDeliveries: options.maxOpenDeliveries === false ? undefined : options.maxOpenDeliveries,
    isDraining: () => state === "draining" || state === "closed",
    verify: createTokenVerifier(config.accessKeys, { clockToleranceSec: options.clockToleranceSec ?? 5 }),
  };

  const app = new Hono();
  app.use("*", async (c, next) => {
    active++;
    try {
      await next();
    } finally {
      active--;
      if (active === 0 && idleWaiters.length) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const resolve of waiters) resolve();
      }
      const route = c.res.status === 404 && c.req.method !== "OPTIONS" ? "unmatched" : routePath(c, -1);
      metrics.httpRequests.inc({ method: c.req.method, route, status: c.res.status });
    }
  });
  app.onError((error, c) => {
    const problem = toProblem(error);
    if (problem.internal) log.error({ err: describe(error), method: c.req.method, path: c.req.path }, "request failed");
    else log.debug({ status: problem.status, error: problem.body.error, method: c.req.method, path: c.req.path }, "request refused");
    return problemResponse(c, problem);
  });
  app.notFound((c) => c.json({ message: `no route for ${c.req.method} ${c.req.path}`, error: "not_found" }, 404));

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    if (state !== "running") return c.json({ status: state === "draining" || state === "closed" ? "draining" : "starting" }, 503);
    try {
      await withTimeout(engine.events.list({ limit: 1, ...(config.workspaces[0] && { workspace: config.workspaces[0].id }) }), 2000);
    } catch (error) {
      log.warn({ err: describe(error) }, "readiness probe: the store did not answer");
      return c.json({ status: "store_unavailable" }, 503);
    }
    return c.json({ status: "ready" });
  });
  if (options.metrics !== false) {
    app.get("/metrics", async (c) => c.body(await metrics.text(), 200, { "content-type": metrics.contentType }));
  }
  registerIngest(app, ctx);
  registerManagement(app, ctx);
  if (options.dashboard !== false) {
    const stats = createDeliveryStats();
    engine.on("delivery", stats.record);
    registerDashboardApi(app, ctx, stats);
    registerDashboard(app, { dir: options.dashboard === true ? undefined : options.dashboard?.dir });
  }

  const fetch = async (request: Request) => app.fetch(request);

  async function start(): Promise<void> {
    if (state === "running") return;
    if (state === "starting") return starting;
    if (state !== "new") throw new MeshworkServerError("server_closed", "the server was closed; create a new one");
    state = "starting";
    starting = (async () => {
      await engine.start();
      if (idempotency) {
        await idempotency.open();
        await idempotency.purge(Date.now() - ctx.idempotencyTtlMs);
        purgeTimer = setInterval(() => {
          idempotency.purge(Date.now() - ctx.idempotencyTtlMs).catch((error: unknown) => log.warn({ err: describe(error) }, "purging idempotency keys failed"));
        }, PURGE_EVERY_MS);
        purgeTimer.unref();
      }
      state = "running";
      log.info({ workspaces: config.workspaces.length, connections: config.connections.length, rules: config.rules.length, store: store.name }, "engine started");
    })().catch(async (error: unknown) => {
      state = "new";
      await engine.stop().catch(() => {});
      throw error;
    });
    return starting;
  }

  async function listen(listenOptions: ListenOptions = {}): Promise<ListenInfo> {
    if (http) throw new MeshworkServerError("already_listening", "the server is already listening");
    await start();
    const host = listenOptions.host ?? "127.0.0.1";
    const server = createAdaptorServer({ fetch: app.fetch, hostname: host }) as Server;
    server.keepAliveTimeout = 65_000;
    http = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listenOptions.port ?? 8787, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const info = { port: address.port, host: address.address, url: `http://${shown}:${address.port}` };
    log.info(info, "listening");
    return info;
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      const wasRunning = state === "running" || state === "starting";
      if (state === "starting") await starting!.catch(() => {});
      state = "draining";
      log.info({ active }, "draining: no new events are accepted");
      const closed = http ? new Promise<void>((resolve) => http!.close(() => resolve())) : Promise.resolve();
      http?.closeIdleConnections();
      // Requests in progress (an ingest waiting for its commit) finish first.
      if (active > 0) await withTimeout(new Promise<void>((resolve) => idleWaiters.push(resolve)), options.shutdownTimeoutMs ?? 10_000).catch(() => {});
      http?.closeIdleConnections();
      if (wasRunning) await engine.stop({ timeoutMs: options.shutdownTimeoutMs ?? 10_000 });
      if (purgeTimer) clearInterval(purgeTimer);
      await idempotency?.close();
      http?.closeAllConnections();
      await closed;
      state = "closed";
      log.info("stopped");
    })();
    return closing;
  }

  return {
    app,
    fetch,
    engine,
    metrics: { contentType: metrics.contentType, text: metrics.text },
    start,
    listen,
    close,
    get draining() {
      return state === "draining" || state === "closed";
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new MeshworkServerError("timeout", `timed out after ${ms} ms`, { retryable: true })), ms);
      timer.unref?.();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** An error or value reduced to what a log line should carry (never a config object). */
function describe(value: unknown): unknown {
  if (value instanceof Error) return { type: value.name, message: value.message, code: (value as { code?: unknown }).code, stack: value.stack };
  return value;
}

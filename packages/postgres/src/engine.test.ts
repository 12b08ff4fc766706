// The engine on a Postgres store, in-process: app instances sharing the work, the outbox,
// management calls from another instance, and a circuit breaker shared by every instance.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createEngine, memoryStore, type Engine } from "@meshwork/rules";
import { checkReachable, DATABASE_URL, dropSchema, testSchema } from "./__fixtures__/db.js";
import { clusterConfig, clusterEvent, flaky, KEY, WORKSPACE, type ClusterConfig, type FlakyOptions } from "./__fixtures__/cluster.js";
import { postgresStore, type PostgresStore } from "./index.js";

const ok = await checkReachable("engine.test.ts");
const schemas: string[] = [];
let engines: Engine[] = [];

afterEach(async () => {
  await Promise.all(engines.map((e) => e.stop()));
  engines = [];
});
afterAll(async () => {
  if (ok) for (const schema of schemas) await dropSchema(schema);
});

interface Instance {
  engine: Engine;
  store: PostgresStore;
  /** Lines the instance's flaky simulator logged for connection `c{i}`. */
  requests(connection?: string): Array<{ key: string; at: number; answer: string }>;
}

function instance(schema: string, config: ClusterConfig, options: { flaky?: FlakyOptions; workerId?: string; role?: "ingest" | "worker" | "both" } = {}): Instance {
  const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 4 });
  const engine = createEngine({
    config: clusterConfig(config),
    destinations: [flaky(options.flaky)],
    store,
    ...(options.role && { role: options.role }),
    ...(options.workerId && { workerId: options.workerId }),
    leaseMs: 5000,
    pollIntervalMs: 200,
    logger: { warn: () => {}, error: (message, detail) => console.error(`[engine ${options.workerId}] ${message}`, detail) },
  });
  engines.push(engine);
  return {
    engine,
    store,
    requests: (connection = "c0") => (engine.sandbox<string[]>(connection).snapshot()).map((line) => JSON.parse(line) as { key: string; at: number; answer: string }),
  };
}

function newSchema(): string {
  const schema = testSchema("mw_engine");
  schemas.push(schema);
  return schema;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (deliveries: ${lastStatuses})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

let lastStatuses = "";
async function statuses(store: PostgresStore): Promise<Record<string, number>> {
  const { rows } = await store.pool.query(`SELECT status, count(*)::int AS n FROM ${store.schema}.deliveries GROUP BY status`);
  const { rows: detail } = await store.pool.query(`SELECT status, attempt_count, locked_by, run_at - (extract(epoch from now()) * 1000)::int8 AS due_in FROM ${store.schema}.deliveries`);
  lastStatuses = JSON.stringify(detail);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe.skipIf(!ok)("the engine on a Postgres store", { timeout: 60_000 }, () => {
  it("lets app instances share the delivery work: each delivery runs once, on one of them", async () => {
    const schema = newSchema();
    const config: ClusterConfig = { connections: 2, concurrency: 4 };
    const a = instance(schema, config, { flaky: { delayMs: 5 }, workerId: "A" });
    const b = instance(schema, config, { flaky: { delayMs: 5 }, workerId: "B" });
    await Promise.all([a.engine.start(), b.engine.start()]);
    const events = Array.from({ length: 150 }, (_, i) => clusterEvent(`share-${i}`));
    for (let i = 0; i < events.length; i += 50) await a.engine.ingest(events.slice(i, i + 50), { publishableKey: KEY });
    await until("every delivery", async () => (await statuses(a.store)).completed === 300);
    const all = [a, b].flatMap((x) => [...x.requests("c0"), ...x.requests("c1")]);
    expect(all).toHaveLength(300);
    expect(new Set(all.map((r) => r.key)).size).toBe(300);
    // Both instances did part of it, though only A ingested.
    expect(b.requests("c0").length + b.requests("c1").length).toBeGreaterThan(0);
    expect(a.requests("c0").length + a.requests("c1").length).toBeGreaterThan(0);
    // History reads work from either instance.
    const detail = await b.engine.events.get("share-7");
    expect(detail).toMatchObject({ status: "completed", completed_count: 2, deliveries: [{ status: "completed" }, { status: "completed" }] });
    expect(await b.engine.attempts.list("share-7", "r-c1")).toEqual([expect.objectContaining({ attempt: 1, outcome: "delivered" })]);
    const page = await a.engine.events.list({ workspace: WORKSPACE, limit: 100 });
    expect(page.count).toBe(100);
    expect(page.next_cursor).not.toBeNull();
  });

  it("ingests inside the app's transaction: a rollback leaves nothing, a commit is delivered", async () => {
    const schema = newSchema();
    const app = instance(schema, { connections: 1 });
    await app.engine.start();
    const client = await app.store.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("CREATE TEMP TABLE signups (email text) ON COMMIT DROP");
      await client.query("INSERT INTO signups VALUES ('alex@northstar.io')");
      const result = await app.engine.ingest([clusterEvent("outbox-rolled-back")], { publishableKey: KEY, tx: client });
      expect(result.count).toBe(1);
      await client.query("ROLLBACK");

      await client.query("BEGIN");
      await app.engine.ingest([clusterEvent("outbox-committed")], { publishableKey: KEY, tx: client });
      // Workers do not see it before the commit.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(app.requests()).toEqual([]);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await until("the committed event's delivery", () => app.requests().length === 1);
    expect(await app.engine.events.get("outbox-rolled-back")).toBeUndefined();
    await until("completed", async () => (await app.engine.events.get("outbox-committed"))?.status === "completed");
    expect(await statuses(app.store)).toEqual({ completed: 1 });
    // Without a shared queue there is no transaction to join.
    const local = createEngine({ config: clusterConfig({ connections: 1 }), destinations: [flaky()], store: memoryStore() });
    engines.push(local);
    await local.start();
    await expect(local.ingest([clusterEvent("x")], { publishableKey: KEY, tx: client })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("retries, cancels and replays from another instance than the one that delivered", async () => {
    const schema = newSchema();
    const config: ClusterConfig = { connections: 1, retry: { schedule: [0, 60_000], jitter: 0 } };
    const worker = instance(schema, config, { flaky: { p500: 1 }, workerId: "W" });
    const server = instance(schema, config, { role: "ingest", workerId: "S" });
    await Promise.all([worker.engine.start(), server.engine.start()]);
    await server.engine.ingest([clusterEvent("m1"), clusterEvent("m2")], { publishableKey: KEY });
    await until("the first attempts", async () => (await statuses(worker.store)).retrying === 2);
    // A delivery waiting for its retry: cancel from the server; retry the other one now.
    expect(await server.engine.cancel("m1", "r-c0")).toMatchObject({ status: "canceled" });
    await worker.engine.stop();
    const healthy = instance(schema, config, { workerId: "W2" });
    await healthy.engine.start();
    expect((await server.engine.retry("m2", "r-c0")).status).toBe("pending");
    await until("m2 delivered", async () => (await server.engine.events.get("m2"))?.status === "completed");
    expect((await server.engine.attempts.list("m2", "r-c0")).map((a) => a.outcome)).toEqual(["rejected_server_error", "delivered"]);
    expect(healthy.requests().map((r) => r.answer)).toEqual(["ok"]);
    // Replay the canceled one from the server: the healthy worker sends it.
    expect(await server.engine.replay({ workspace: WORKSPACE, status: "canceled" }, { dryRun: true })).toEqual({ count: 1 });
    expect(await server.engine.replay({ workspace: WORKSPACE, status: "canceled" })).toEqual({ count: 1 });
    await until("m1 delivered", async () => (await server.engine.events.get("m1"))?.status === "completed");
    expect(await server.engine.cancel("m1", "r-c0").catch((e: { code: string }) => e.code)).toBe("invalid_state");
    await expect(server.engine.retry("m1", "r-c0")).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("shares the circuit breaker: once open, no instance sends until one probe goes through", async () => {
    const schema = newSchema();
    const config: ClusterConfig = { connections: 1, concurrency: 1, retry: { schedule: [0, 50, 50, 50, 50, 50, 50, 50, 50, 50], jitter: 0 }, breaker: { failureThreshold: 3, cooldownMs: 700 } };
    const a = instance(schema, config, { flaky: { p500: 1 }, workerId: "A" });
    const b = instance(schema, config, { flaky: { p500: 1 }, workerId: "B" });
    await Promise.all([a.engine.start(), b.engine.start()]);
    await a.engine.ingest(Array.from({ length: 6 }, (_, i) => clusterEvent(`brk-${i}`)), { publishableKey: KEY });
    await new Promise((resolve) => setTimeout(resolve, 3300));
    const times = [...a.requests(), ...b.requests()].map((r) => r.at).sort((x, y) => x - y);
    const { rows } = await a.store.pool.query(`SELECT state, cooldown_ms FROM ${schema}.breakers`);
    // 3 failures open it (one more may have been in flight on the other instance), then each
    // cool-down ends with exactly one probe, which fails and doubles the cool-down: 700, 1400.
    console.info(`breaker: requests at ${times.map((t) => t - times[0]!).join(", ")} ms`);
    // Failures open it after 3 in a row; the engines learn it within a round trip, so each may
    // have one more attempt (its own, one per concurrency slot) under way: at most 3 + 2 + 2.
    const gap = times.findIndex((t, i) => i > 0 && t - times[i - 1]! >= 500);
    const opening = times.slice(0, gap);
    expect(opening.length).toBeGreaterThanOrEqual(3);
    expect(opening.length).toBeLessThanOrEqual(7);
    // Then each cool-down ends with exactly one probe across both instances, which fails and
    // doubles the next cool-down: 700 ms, then 1400 ms.
    const probes = times.slice(gap);
    expect(probes.length).toBe(2);
    // The third failure opened it, recorded after its answer: the probe comes 700 ms after that at the earliest.
    expect(probes[0]! - opening[2]!).toBeGreaterThanOrEqual(695);
    expect(probes[1]! - probes[0]!).toBeGreaterThanOrEqual(1395);
    expect(rows).toEqual([{ state: "open", cooldown_ms: "2800" }]);
    expect(a.engine.stats().connections[0]!.circuit).toBe("open");
    expect(b.engine.stats().connections[0]!.circuit).toBe("open");
    // Nothing was spent on attempts while open: the deliveries wait in the queue, not failed.
    expect((await statuses(a.store)).failed ?? 0).toBe(0);
  });
  it("tells every instance when a destination disables a connection, and when it is enabled again", async () => {
    const schema = newSchema();
    const a = instance(schema, { connections: 1, action: "gone" }, { workerId: "A" });
    const b = instance(schema, { connections: 1, action: "gone" }, { workerId: "B" });
    await Promise.all([a.engine.start(), b.engine.start()]);
    await a.engine.ingest([clusterEvent("gone-1")], { publishableKey: KEY });
    // Whichever instance ran it disabled the connection; the other hears of it from the store.
    await until("both to see the connection disabled", () => a.engine.stats().connections[0]!.disabled && b.engine.stats().connections[0]!.disabled);
    expect((await b.engine.events.get("gone-1"))?.deliveries[0]).toMatchObject({ status: "failed", last_outcome: "rejected_client_error" });
    await a.engine.enableConnection("c0");
    await until("B to see it enabled", () => !b.engine.stats().connections[0]!.disabled);
  });
});

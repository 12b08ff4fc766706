// The Store contract the memory and SQLite stores are held to (the same cases as
// packages/rules/src/stores/store.test.ts), then what only the Postgres store does: migrations,
// the claim queue with leases, the outbox and the shared limits.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeliveryRow, Store } from "@meshwork/rules";
// The same rows as the memory and SQLite stores' tests.
import { attempt, delivery, event } from "../../rules/src/__fixtures__/rows.js";
import { checkReachable, DATABASE_URL, dropSchema, testSchema } from "./__fixtures__/db.js";
import { migrate, postgresStore, SCHEMA_VERSION, type PostgresStore } from "./index.js";

const ok = await checkReachable("store.test.ts");
const schemas: string[] = [];
const stores: Store[] = [];
let admin: pg.Pool;

beforeAll(() => {
  if (ok) admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
});
afterAll(async () => {
  if (!ok) return;
  for (const store of stores) await store.close().catch(() => {});
  for (const schema of schemas) await dropSchema(schema);
  await admin.end();
});

/** A store on a schema of its own. */
function make(extra: Partial<Parameters<typeof postgresStore>[0]> = {}): PostgresStore {
  const schema = testSchema();
  schemas.push(schema);
  const store = postgresStore({ connectionString: DATABASE_URL, schema, max: 4, ...extra });
  stores.push(store);
  return store;
}

describe.skipIf(!ok)("postgres store: the Store contract", () => {
  it("inserts events with their deliveries once per workspace and id", async () => {
    const store = make();
    await store.open();
    const d1 = delivery("w1", "e1", "r1");
    const d2 = delivery("w1", "e1", "r2");
    const first = await store.insertEvents([
      { event: event("w1", "e1"), deliveries: [d1, d2] },
      { event: event("w2", "e1"), deliveries: [] },
      { event: event("w1", "e1", { created_at: 5000 }), deliveries: [delivery("w1", "e1", "r3")] },
    ]);
    expect(first.map((r) => r.inserted)).toEqual([true, true, false]);
    expect(first[0]!.event).toMatchObject({ status: "pending", total_rules: 2 });
    expect(first[1]!.event).toMatchObject({ status: "completed", total_rules: 0 });
    expect(first[2]!.event).toMatchObject({ created_at: 1000, total_rules: 2 });
    expect((await store.eventDeliveries("w1", "e1")).map((d) => d.rule_id).sort()).toEqual(["r1", "r2"]);
    expect((await store.getEvents("e1")).map((e) => e.workspace).sort()).toEqual(["w1", "w2"]);
    expect(await store.getEvents("e1", "w2")).toHaveLength(1);
    expect((await store.getEvents("e1", "w1"))[0]!.payload).toEqual({ email: "alex@northstar.io", nested: { n: 1 } });
    // A later call with the same ids stores nothing new and answers the stored events.
    const again = await store.insertEvents([{ event: event("w1", "e1", { created_at: 9000 }), deliveries: [delivery("w1", "e1", "r9")] }]);
    expect(again[0]).toMatchObject({ inserted: false, event: { created_at: 1000, total_rules: 2 } });
    expect(await store.eventDeliveries("w1", "e1")).toHaveLength(2);
  });

  it("applies delivery writes and attempts, and keeps the event's status current", async () => {
    const store = make();
    await store.open();
    const d1 = delivery("w1", "e1", "r1");
    const d2 = delivery("w1", "e1", "r2");
    await store.insertEvents([{ event: event("w1", "e1"), deliveries: [d1, d2] }]);
    await store.write({ deliveries: [{ ...d1, status: "retrying", attempt_count: 1, next_attempt_at: 9000, last_error: "503", last_outcome: "rejected_server_error", updated_at: 2000 }], attempts: [attempt(d1, 1)] });
    expect((await store.getEvents("e1"))[0]).toMatchObject({ status: "processing", completed_count: 0 });
    await store.write({
      deliveries: [
        { ...d1, status: "completed", attempt_count: 2, last_outcome: "delivered", updated_at: 3000, completed_at: 3000 },
        { ...d2, status: "failed", attempt_count: 1, last_outcome: "auth_failed", last_error: "401", updated_at: 3000, completed_at: 3000 },
      ],
      attempts: [attempt(d1, 2, { outcome: "delivered", status: 201, retryable: false }), attempt(d2, 1, { outcome: "auth_failed", status: 401, retryable: false, exchanges: [], notes: [] })],
    });
    expect((await store.getEvents("e1"))[0]).toMatchObject({ status: "failed", completed_count: 1, failed_count: 1 });
    const attempts = await store.listAttempts(d1.id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.retryable])).toEqual([
      [1, "rejected_server_error", true],
      [2, "delivered", false],
    ]);
    expect(attempts[0]!.exchanges[0]!.response!.status).toBe(503);
    expect(attempts[0]!.notes).toEqual(["warning: x"]);
    expect(attempts[0]).toMatchObject({ started_at: 2000, duration_ms: 12, status: 503, workspace: "w1", event_id: "e1", rule_id: "r1" });
    expect((await store.listAttempts(d2.id))[0]).toMatchObject({ exchanges: [], notes: [] });
    expect(await store.getDelivery("w1", "e1", "r2")).toMatchObject({ delivery: { status: "failed", last_error: "401", completed_at: 3000 }, event: { id: "e1" } });
    expect(await store.getDelivery("w2", "e1", "r2")).toBeUndefined();
  });

  it("finds open and due deliveries for a restart", async () => {
    const store = make();
    await store.open();
    const rows = [
      delivery("w1", "e1", "r1"),
      delivery("w1", "e1", "r2", { status: "retrying", next_attempt_at: 50_000 }),
      delivery("w1", "e2", "r1", { status: "processing", attempt_count: 1 }),
      delivery("w1", "e2", "r2", { status: "completed", completed_at: 1 }),
    ];
    await store.insertEvents([
      { event: event("w1", "e1"), deliveries: rows.slice(0, 2) },
      { event: event("w1", "e2"), deliveries: rows.slice(2) },
    ]);
    const open = await store.openDeliveries();
    expect(open.map((o) => o.delivery.id).sort()).toEqual([rows[0]!.id, rows[1]!.id, rows[2]!.id].sort());
    expect(open.find((o) => o.delivery.id === rows[2]!.id)!.event.payload).toEqual({ email: "alex@northstar.io", nested: { n: 1 } });
    expect((await store.dueDeliveries(10_000, 10)).map((o) => o.delivery.id).sort()).toEqual([rows[0]!.id, rows[2]!.id].sort());
    expect(await store.dueDeliveries(60_000, 10)).toHaveLength(3);
  });

  it("lists events newest first with filters and a seq cursor", async () => {
    const store = make();
    await store.open();
    await store.insertEvents(
      Array.from({ length: 6 }, (_, i) => ({
        event: event(i % 2 ? "w2" : "w1", `e${i}`, { created_at: 1000 * i, event: i < 4 ? "a" : "b", resource: i === 2 ? "team" : null, resource_id: i === 2 ? "t1" : null }),
        deliveries: [],
      })),
    );
    const all = await store.listEvents({ limit: 10 });
    expect(all.map((e) => e.id)).toEqual(["e5", "e4", "e3", "e2", "e1", "e0"]);
    expect((await store.listEvents({ limit: 10, workspaces: ["w1"] })).map((e) => e.id)).toEqual(["e4", "e2", "e0"]);
    expect((await store.listEvents({ limit: 2, workspaces: ["w1", "w2"], beforeSeq: all[1]!.seq })).map((e) => e.id)).toEqual(["e3", "e2"]);
    expect((await store.listEvents({ limit: 10, event: "b", statuses: ["completed"] })).map((e) => e.id)).toEqual(["e5", "e4"]);
    expect((await store.listEvents({ limit: 10, resource: "team", resource_id: "t1" })).map((e) => e.id)).toEqual(["e2"]);
    expect((await store.listEvents({ limit: 10, since: 1000, until: 3000 })).map((e) => e.id)).toEqual(["e2", "e1"]);
    // Paging through everything with the cursor visits each event once.
    const seen: string[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await store.listEvents({ limit: 4, ...(before !== undefined && { beforeSeq: before }) });
      seen.push(...page.slice(0, 3).map((e) => e.id));
      if (page.length <= 3) break;
      before = page[2]!.seq;
    }
    expect(seen).toEqual(["e5", "e4", "e3", "e2", "e1", "e0"]);
  });

  it("finds deliveries to replay and remembers disabled connections", async () => {
    const store = make();
    await store.open();
    await store.insertEvents([
      { event: event("w1", "e1", { created_at: 100 }), deliveries: [delivery("w1", "e1", "r1", { status: "failed", last_outcome: "auth_failed" }), delivery("w1", "e1", "r2", { status: "completed" })] },
      { event: event("w1", "e2", { created_at: 200 }), deliveries: [delivery("w1", "e2", "r1", { status: "failed", last_outcome: "timeout" })] },
      { event: event("w2", "e3", { created_at: 300 }), deliveries: [delivery("w2", "e3", "r1", { status: "failed", last_outcome: "auth_failed" })] },
    ]);
    const ids = async (query: Parameters<Store["findDeliveries"]>[0]) => (await store.findDeliveries(query)).map((d) => `${d.delivery.event_id}/${d.delivery.rule_id}`);
    expect(await ids({ workspace: "w1", statuses: ["failed"] })).toEqual(["e1/r1", "e2/r1"]);
    expect(await ids({ workspace: "w1", statuses: ["failed", "completed"], connection: "conn-r2" })).toEqual(["e1/r2"]);
    expect(await ids({ workspace: "w1", statuses: ["failed"], outcomes: ["timeout"] })).toEqual(["e2/r1"]);
    expect(await ids({ workspace: "w1", statuses: ["failed"], since: 150 })).toEqual(["e2/r1"]);
    expect(await ids({ workspace: "w1", statuses: ["failed"], until: 150, rule: "r1", event: "page.completed" })).toEqual(["e1/r1"]);
    await store.setConnectionStatus("c1", { connection: "c1", disabled_at: 5, reason: "410" });
    await store.setConnectionStatus("c1", { connection: "c1", disabled_at: 6, reason: "410 again" });
    expect(await store.connectionStatuses()).toEqual([{ connection: "c1", disabled_at: 6, reason: "410 again" }]);
    await store.setConnectionStatus("c1", null);
    expect(await store.connectionStatuses()).toEqual([]);
  });

  it("keeps payloads exactly, including text JSONB would reject", async () => {
    const store = make();
    await store.open();
    const payload = { text: "nul \u0000 and emoji 🎉", quote: `"'\\`, list: [1, 2.5, null, true], big: 2 ** 52 };
    await store.insertEvents([{ event: event("w1", "odd", { payload }), deliveries: [] }]);
    expect((await store.getEvents("odd"))[0]!.payload).toEqual(payload);
  });
});

describe.skipIf(!ok)("postgres store: schema and migrations", () => {
  it("migrates on open, records its version, indexes the history and queue queries, and keeps data across opens", async () => {
    const store = make();
    await store.open();
    await store.insertEvents([{ event: event("w1", "e1"), deliveries: [delivery("w1", "e1", "r1")] }]);
    await store.close();
    const schema = store.schema;
    const { rows: versions } = await admin.query(`SELECT version FROM ${pg.escapeIdentifier(schema)}.schema_migrations ORDER BY version`);
    expect(versions.map((r) => r.version)).toEqual(Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1));
    const { rows: indexes } = await admin.query(`SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname`, [schema]);
    expect(indexes.map((r) => r.indexname)).toEqual(
      expect.arrayContaining([
        "deliveries_event_rule",
        "deliveries_finished",
        "deliveries_queue",
        "events_id",
        "events_workspace_event_seq",
        "events_workspace_id",
        "events_workspace_seq",
        "events_workspace_status_seq",
      ]),
    );
    // The plans of the hot queries use their indexes (sequential scans off, as on a big table).
    const client = await admin.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = async (sql: string, params: unknown[] = []) => (await client.query(`EXPLAIN ${sql}`, params)).rows.map((r) => r["QUERY PLAN"]).join("\n");
      const s = pg.escapeIdentifier(schema);
      expect(await plan(`SELECT * FROM ${s}.events WHERE workspace = $1 ORDER BY seq DESC LIMIT 50`, ["w1"])).toMatch(/events_workspace_seq/);
      expect(await plan(`SELECT * FROM ${s}.events WHERE workspace = $1 AND status = $2 ORDER BY seq DESC LIMIT 50`, ["w1", "failed"])).toMatch(/events_workspace_status_seq/);
      expect(await plan(`SELECT id FROM ${s}.deliveries WHERE run_at <= $1 ORDER BY run_at LIMIT 10 FOR UPDATE SKIP LOCKED`, [5])).toMatch(/deliveries_queue/);
      expect(await plan(`SELECT * FROM ${s}.attempts WHERE delivery_id = $1 ORDER BY attempt`, ["x"])).toMatch(/attempts_pkey/);
      expect(await plan(`SELECT * FROM ${s}.deliveries WHERE workspace = $1 AND status IN ('failed') AND connection = $2`, ["w1", "c1"])).toMatch(/deliveries_finished/);
    } finally {
      client.release();
    }
    const again = postgresStore({ connectionString: DATABASE_URL, schema });
    stores.push(again);
    await again.open();
    expect((await again.getEvents("e1"))[0]).toMatchObject({ workspace: "w1", payload: { email: "alex@northstar.io" } });
    await again.close();
  });

  it("runs migrations once when many processes start together, and refuses a newer schema", async () => {
    const schema = testSchema();
    schemas.push(schema);
    const results = await Promise.all(Array.from({ length: 4 }, () => migrate({ connectionString: DATABASE_URL, schema })));
    expect(results.filter((r) => r.from === 0 && r.to === SCHEMA_VERSION).length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.to === SCHEMA_VERSION)).toBe(true);
    expect(await migrate({ connectionString: DATABASE_URL, schema })).toEqual({ schema, from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    await admin.query(`INSERT INTO ${pg.escapeIdentifier(schema)}.schema_migrations (version) VALUES (99)`);
    await expect(migrate({ connectionString: DATABASE_URL, schema })).rejects.toMatchObject({ code: "store_version" });
    await expect(postgresStore({ connectionString: DATABASE_URL, schema }).open()).rejects.toMatchObject({ code: "store_version" });
  });

  it("with migrate: false, says to run the migrations instead of creating tables", async () => {
    const store = make({ migrate: false });
    await expect(store.open()).rejects.toMatchObject({ code: "store_version", message: expect.stringMatching(/run migrate\(\)/) });
  });

  it("works on a pool the app owns, and leaves it open", async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
    const schema = testSchema();
    schemas.push(schema);
    const store = postgresStore({ pool, schema });
    await store.open();
    await store.insertEvents([{ event: event("w1", "p1"), deliveries: [] }]);
    await store.close();
    expect((await pool.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    await pool.end();
  });

  it("answers store_closed before open, and rejects a schema name that is not an identifier", async () => {
    const store = make();
    await expect(store.getEvents("x")).rejects.toMatchObject({ code: "store_closed", retryable: true });
    expect(() => postgresStore({ connectionString: DATABASE_URL, schema: "a; DROP TABLE x" })).toThrow(/plain SQL identifier/);
    expect(() => postgresStore({})).toThrow(/connectionString/);
  });
});

describe.skipIf(!ok)("postgres store: the outbox (insert inside the app's transaction)", () => {
  it("stores events if and only if the app's transaction commits", async () => {
    const store = make();
    await store.open();
    const client = await store.pool.connect();
    try {
      await client.query("BEGIN");
      await store.insertEvents([{ event: event("w1", "rolled-back"), deliveries: [delivery("w1", "rolled-back", "r1")] }], { tx: client });
      await client.query("ROLLBACK");
      await client.query("BEGIN");
      const [result] = await store.insertEvents([{ event: event("w1", "committed"), deliveries: [delivery("w1", "committed", "r1")] }], { tx: client });
      expect(result!.inserted).toBe(true);
      // Not visible outside the transaction until it commits.
      expect(await store.getEvents("committed")).toEqual([]);
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    expect(await store.getEvents("rolled-back")).toEqual([]);
    expect(await store.eventDeliveries("w1", "rolled-back")).toEqual([]);
    expect(await store.eventDeliveries("w1", "committed")).toHaveLength(1);
    await expect(store.insertEvents([{ event: event("w1", "x"), deliveries: [] }], { tx: {} })).rejects.toMatchObject({ code: "invalid_request" });
  });
});

describe.skipIf(!ok)("postgres store: the queue", () => {
  const capacity = (entries: Record<string, number>) => new Map(Object.entries(entries));

  async function seeded(count: number, rule = "r1", extra: Partial<DeliveryRow> = {}) {
    const store = make();
    await store.open();
    const rows = Array.from({ length: count }, (_, i) => delivery("w1", `e${i}`, rule, { created_at: 1000 + i, ...extra }));
    await store.insertEvents(rows.map((d, i) => ({ event: event("w1", `e${i}`), deliveries: [d] })));
    return { store, rows };
  }

  it("gives each due delivery to one worker at a time, oldest first, within each connection's capacity", async () => {
    const store = make();
    await store.open();
    const items = Array.from({ length: 10 }, (_, i) => ({
      event: event("w1", `e${i}`),
      deliveries: [delivery("w1", `e${i}`, i < 6 ? "ra" : "rb", { created_at: 1000 + i }), ...(i === 0 ? [delivery("w1", "e0", "rlater", { status: "retrying", next_attempt_at: Date.now() + 60_000 })] : [])],
    }));
    await store.insertEvents(items);
    const [a, b] = await Promise.all([
      store.queue.claim({ worker: "A", limit: 4, leaseMs: 60_000, capacity: capacity({ "conn-ra": 3, "conn-rb": 10, "conn-rlater": 10 }) }),
      store.queue.claim({ worker: "B", limit: 100, leaseMs: 60_000, capacity: capacity({ "conn-ra": 10, "conn-rb": 10, "conn-rlater": 10 }) }),
    ]);
    const ids = [...a.deliveries, ...b.deliveries].map((d) => d.delivery.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(items.map((item) => item.deliveries[0]!.id).sort());
    expect(a.deliveries.filter((d) => d.delivery.connection === "conn-ra").length).toBeLessThanOrEqual(3);
    expect(a.deliveries.length).toBeLessThanOrEqual(4);
    expect(a.deliveries[0]!.event.payload).toEqual({ email: "alex@northstar.io", nested: { n: 1 } });
    // Nothing else is due: the retry waits for its time, the claimed ones for their lease.
    const c = await store.queue.claim({ worker: "C", limit: 10, leaseMs: 60_000, capacity: capacity({ "conn-ra": 10, "conn-rb": 10, "conn-rlater": 10 }) });
    expect(c.deliveries).toEqual([]);
    expect(c.nextAt).toBeGreaterThan(Date.now() + 50_000);
    // A connection the worker has no room for is not claimed.
    const fresh = await seeded(3);
    expect((await fresh.store.queue.claim({ worker: "A", limit: 10, leaseMs: 1000, capacity: capacity({ "conn-other": 5 }) })).deliveries).toEqual([]);
  });

  it("makes a delivery claimable again when its lease expires, and fences the old holder's writes", async () => {
    const { store, rows } = await seeded(1);
    const [claimed] = (await store.queue.claim({ worker: "A", limit: 1, leaseMs: 300, capacity: capacity({ "conn-r1": 1 }) })).deliveries;
    // The claim starts the attempt: processing, attempt 1, committed before any request goes out.
    expect(claimed).toMatchObject({ interrupted: false, delivery: { id: rows[0]!.id, status: "processing", attempt_count: 1 } });
    expect((await store.getEvents("e0"))[0]!.status).toBe("processing");
    const processing = { ...claimed!.delivery, updated_at: Date.now() };
    expect(await store.write({ deliveries: [processing], attempts: [], worker: "A", held: new Set([processing.id]) })).toEqual({ lost: [] });
    expect((await store.queue.claim({ worker: "B", limit: 1, leaseMs: 60_000, capacity: capacity({ "conn-r1": 1 }) })).deliveries).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // A stalled past its lease: B takes the delivery, told A's attempt 1 was interrupted, and starts attempt 2.
    const [taken] = (await store.queue.claim({ worker: "B", limit: 1, leaseMs: 60_000, capacity: capacity({ "conn-r1": 1 }) })).deliveries;
    expect(taken).toMatchObject({ interrupted: true, delivery: { id: processing.id, status: "processing", attempt_count: 2 } });
    // A's late result is not applied; its attempt record does not replace B's record of attempt 1.
    const done = { ...processing, status: "completed" as const, completed_at: Date.now(), last_outcome: "delivered" as const };
    await store.write({ deliveries: [], attempts: [attempt(processing, 1, { message: "B: interrupted" })], worker: "B", held: new Set([processing.id]) });
    expect(await store.write({ deliveries: [done], attempts: [attempt(processing, 1, { outcome: "delivered", message: "A: late" })], worker: "A", held: new Set() })).toEqual({ lost: [processing.id] });
    expect((await store.getDelivery("w1", "e0", "r1"))!.delivery).toMatchObject({ status: "processing", attempt_count: 2 });
    expect((await store.listAttempts(processing.id)).map((x) => x.message)).toEqual(["B: interrupted"]);
    expect((await store.queue.renew("A", [processing.id], 1000)).held).toEqual([]);
    expect((await store.queue.renew("B", [processing.id], 1000)).held).toEqual([processing.id]);
  });

  it("releases a delivery written back for a retry, due at its retry time", async () => {
    const { store, rows } = await seeded(1);
    await store.queue.claim({ worker: "A", limit: 1, leaseMs: 60_000, capacity: capacity({ "conn-r1": 1 }) });
    const retryAt = Date.now() + 300;
    await store.write({ deliveries: [{ ...rows[0]!, status: "retrying", attempt_count: 1, next_attempt_at: retryAt, updated_at: Date.now() }], attempts: [attempt(rows[0]!, 1)], worker: "A", held: new Set() });
    const early = await store.queue.claim({ worker: "B", limit: 1, leaseMs: 60_000, capacity: capacity({ "conn-r1": 1 }) });
    expect(early.deliveries).toEqual([]);
    expect(early.nextAt).toBe(retryAt);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const late = await store.queue.claim({ worker: "B", limit: 1, leaseMs: 60_000, capacity: capacity({ "conn-r1": 1 }) });
    expect(late.deliveries.map((d) => [d.delivery.status, d.delivery.attempt_count, d.interrupted])).toEqual([["processing", 2, false]]);
    await store.queue.release("B", [rows[0]!.id]);
    expect((await store.queue.claim({ worker: "C", limit: 1, leaseMs: 60_000, capacity: capacity({ "conn-r1": 1 }) })).deliveries).toHaveLength(1);
  });

  it("requeues finished deliveries nobody holds, and cancels: at once when free, through the holder when held", async () => {
    const { store, rows } = await seeded(3);
    await store.write({ deliveries: [{ ...rows[0]!, status: "failed", attempt_count: 2, completed_at: 5, last_outcome: "auth_failed", last_error: "401" }], attempts: [] });
    const requeued = await store.queue.requeue([rows[0]!.id, rows[1]!.id], ["failed", "canceled"], 7000);
    expect(requeued).toEqual([expect.objectContaining({ id: rows[0]!.id, status: "pending", round_start: 2, attempt_count: 2, completed_at: null, last_error: "401" })]);
    expect((await store.getEvents("e0"))[0]!.status).toBe("processing");
    // e1 is held by A: cancel is requested and A hears of it when it renews.
    await store.queue.claim({ worker: "A", limit: 10, leaseMs: 60_000, capacity: capacity({ "conn-r1": 10 }) });
    const held = await store.queue.cancel(rows[1]!.id, 8000);
    expect(held).toMatchObject({ status: "processing" });
    const renewed = await store.queue.renew("A", [rows[1]!.id, rows[2]!.id], 60_000);
    expect({ held: renewed.held.sort(), canceled: renewed.canceled }).toEqual({ held: [rows[1]!.id, rows[2]!.id].sort(), canceled: [rows[1]!.id] });
    // A's write of a retry after the cancel request becomes `canceled`.
    await store.write({ deliveries: [{ ...rows[1]!, status: "retrying", attempt_count: 1, next_attempt_at: 0, updated_at: 9000 }], attempts: [], worker: "A", held: new Set() });
    expect((await store.getDelivery("w1", "e1", "r1"))!.delivery).toMatchObject({ status: "canceled", completed_at: 9000 });
    expect((await store.getEvents("e1"))[0]!.status).toBe("canceled");
    // A free delivery is canceled at once; a finished one cannot be.
    await store.queue.release("A", [rows[2]!.id]);
    expect(await store.queue.cancel(rows[2]!.id, 10_000)).toMatchObject({ status: "canceled", completed_at: 10_000 });
    expect(await store.queue.cancel(rows[2]!.id, 10_000)).toBeUndefined();
  });

  it("wakes subscribers on new work, also from a transaction once it commits", async () => {
    const store = make();
    await store.open();
    let wakes = 0;
    const woken = (start: number) => new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (wakes > start) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const unsubscribe = store.queue.subscribe(() => wakes++);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const before = wakes;
    await store.insertEvents([{ event: event("w1", "n1"), deliveries: [delivery("w1", "n1", "r1")] }]);
    await woken(before);
    const client = await store.pool.connect();
    await client.query("BEGIN");
    await store.insertEvents([{ event: event("w1", "n2"), deliveries: [delivery("w1", "n2", "r1")] }], { tx: client });
    const mid = wakes;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(wakes).toBe(mid);
    await client.query("COMMIT");
    client.release();
    await woken(mid);
    unsubscribe();
  });
});

describe.skipIf(!ok)("postgres store: shared limits", () => {
  it("hands out a connection's tokens across callers: the burst, then the refill rate", async () => {
    const store = make();
    await store.open();
    const slow = { requests: 10, perMs: 600_000 };
    const first = await store.queue.limits.take("c1", slow, 100);
    // At most ~50 ms of the rate is taken at once (at least one token), so tokens are spent as taken.
    expect(first.granted).toBe(1);
    let granted = first.granted;
    for (let i = 0; i < 12; i++) granted += (await store.queue.limits.take("c1", slow, 1)).granted;
    expect(granted).toBe(10);
    const empty = await store.queue.limits.take("c1", slow, 1);
    expect(empty.granted).toBe(0);
    expect(empty.waitMs).toBeGreaterThan(50_000);
    expect(empty.waitMs).toBeLessThanOrEqual(60_001);
    // At 20/s the bucket is back one token 50 ms after it ran dry.
    const limit = { requests: 20, perMs: 1000 };
    while ((await store.queue.limits.take("c3", limit, 20)).granted > 0);
    const dry = await store.queue.limits.take("c3", limit, 1);
    expect(dry.waitMs).toBeLessThanOrEqual(51);
    await new Promise((resolve) => setTimeout(resolve, dry.waitMs + 5));
    expect((await store.queue.limits.take("c3", limit, 1)).granted).toBe(1);
    // A vendor pause holds every caller back.
    await store.queue.limits.pause("c3", 500);
    const paused = await store.queue.limits.take("c3", limit, 1);
    expect(paused.granted).toBe(0);
    expect(paused.waitMs).toBeGreaterThan(300);
    const fast = await store.queue.limits.take("c2", { requests: 10_000, perMs: 1000 }, 100);
    expect(fast.granted).toBe(32);
  });

  it("keeps one circuit breaker per connection for every process", async () => {
    const store = make();
    await store.open();
    const policy = { failureThreshold: 3, cooldownMs: 1000, maxCooldownMs: 3000 };
    const L = store.queue.limits;
    expect(await L.record("c1", true, policy, 100)).toMatchObject({ state: "closed", failures: 1 });
    expect(await L.record("c1", false, policy, 110)).toMatchObject({ state: "closed", failures: 0 });
    await L.record("c1", true, policy, 120);
    await L.record("c1", true, policy, 130);
    expect(await L.record("c1", true, policy, 140)).toMatchObject({ state: "open", failures: 3, probeAt: 1140 });
    expect(await L.breakers()).toEqual([{ connection: "c1", state: "open", failures: 3, probeAt: 1140 }]);
    // One probe after the cool-down, for one process only.
    expect(await L.probe("c1", "A", 1000, 5000)).toBe(false);
    expect(await Promise.all([L.probe("c1", "A", 1200, 5000), L.probe("c1", "B", 1200, 5000)])).toEqual(expect.arrayContaining([true, false]));
    // The probe failed: open again with the cool-down doubled.
    expect(await L.record("c1", true, policy, 1300)).toMatchObject({ state: "open", probeAt: 3300 });
    expect(await L.probe("c1", "B", 3300, 5000)).toBe(true);
    expect(await L.record("c1", false, policy, 3400)).toMatchObject({ state: "closed", failures: 0 });
    expect(await L.breakers()).toEqual([]);
  });
});

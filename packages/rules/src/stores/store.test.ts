import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { memoryStore } from "./memory.js";
import { sqliteStore } from "./sqlite.js";
import { attempt, delivery, event } from "../__fixtures__/rows.js";
import type { DeliveryRow, EventRow, Store } from "../types.js";

const dir = mkdtempSync(join(tmpdir(), "meshwork-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;


const stores: Array<[string, () => Store]> = [
  ["memory", () => memoryStore()],
  ["sqlite", () => sqliteStore({ path: join(dir, `contract-${n++}.db`) })],
  ["sqlite (inline writer)", () => sqliteStore({ path: join(dir, `contract-${n++}.db`), writer: "inline" })],
  ["sqlite (:memory:)", () => sqliteStore({ path: ":memory:" })],
];

describe.each(stores)("%s store", (_name, make) => {
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
    await store.close();
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
    expect((await store.listAttempts(d2.id))[0]).toMatchObject({ exchanges: [], notes: [] });
    expect(await store.getDelivery("w1", "e1", "r2")).toMatchObject({ delivery: { status: "failed", last_error: "401" }, event: { id: "e1" } });
    expect(await store.getDelivery("w2", "e1", "r2")).toBeUndefined();
    await store.close();
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
    await store.close();
  });

  it("lists events newest first with filters and a seq cursor", async () => {
    const store = make();
    await store.open();
    await store.insertEvents(
      Array.from({ length: 6 }, (_, i) => ({
        event: event(i % 2 ? "w2" : "w1", `e${i}`, { created_at: 1000 * i, event: i < 4 ? "a" : "b", resource: i === 2 ? "team" : null }),
        deliveries: [],
      })),
    );
    const all = await store.listEvents({ limit: 10 });
    expect(all.map((e) => e.id)).toEqual(["e5", "e4", "e3", "e2", "e1", "e0"]);
    expect((await store.listEvents({ limit: 10, workspaces: ["w1"] })).map((e) => e.id)).toEqual(["e4", "e2", "e0"]);
    expect((await store.listEvents({ limit: 2, workspaces: ["w1", "w2"], beforeSeq: all[1]!.seq })).map((e) => e.id)).toEqual(["e3", "e2"]);
    expect((await store.listEvents({ limit: 10, event: "b", statuses: ["completed"] })).map((e) => e.id)).toEqual(["e5", "e4"]);
    expect((await store.listEvents({ limit: 10, resource: "team" })).map((e) => e.id)).toEqual(["e2"]);
    expect((await store.listEvents({ limit: 10, since: 1000, until: 3000 })).map((e) => e.id)).toEqual(["e2", "e1"]);
    await store.close();
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
    expect(await store.connectionStatuses()).toEqual([{ connection: "c1", disabled_at: 5, reason: "410" }]);
    await store.setConnectionStatus("c1", null);
    expect(await store.connectionStatuses()).toEqual([]);
    await store.close();
  });
});

describe("sqlite store", () => {
  it("uses WAL, records its schema version, indexes the history queries, and keeps data across opens", async () => {
    const path = join(dir, "durable.db");
    const store = sqliteStore({ path });
    await store.open();
    await store.insertEvents([{ event: event("w1", "e1"), deliveries: [delivery("w1", "e1", "r1")] }]);
    await store.close();

    const db = new Database(path, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("user_version", { simple: true })).toBe(5);
    const indexes = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map((r) => r.name).sort();
    expect(indexes).toEqual([
      "attempts_delivery_attempt",
      "deliveries_event_rule",
      "deliveries_finished",
      "deliveries_open",
      "events_id",
      "events_workspace_event_seq",
      "events_workspace_id",
      "events_workspace_seq",
      "events_workspace_status_seq",
    ]);
    const plan = (sql: string, ...params: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join("; ");
    expect(plan("SELECT * FROM events WHERE workspace = ? ORDER BY seq DESC LIMIT 50", "w1")).toMatch(/USING (COVERING )?INDEX events_workspace_seq/);
    expect(plan("SELECT * FROM events WHERE workspace = ? AND status = ? ORDER BY seq DESC LIMIT 50", "w1", "failed")).toMatch(/INDEX events_workspace_status_seq/);
    // A page of the backlog is a range of the open index, in its order (no sort).
    const page = plan("SELECT d.* FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.completed_at IS NULL AND d.event_seq <= ? AND (d.event_seq, d.id) > (?, ?) ORDER BY d.event_seq, d.id LIMIT 10", 9, 1, "x");
    expect(page).toMatch(/SEARCH d USING INDEX deliveries_open/);
    expect(page).not.toMatch(/TEMP B-TREE/);
    expect(plan("SELECT * FROM deliveries d WHERE d.workspace = ? AND d.status IN ('failed') AND d.status IN ('failed', 'canceled')", "w1")).toMatch(/INDEX deliveries_finished/);
    expect(plan("SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempt", "d1")).toMatch(/INDEX attempts_delivery_attempt/);
    db.close();

    const again = sqliteStore({ path });
    await again.open();
    expect((await again.getEvents("e1"))[0]).toMatchObject({ workspace: "w1", payload: { email: "alex@northstar.io" } });
    await again.close();
  });

  it("pages open deliveries in (event seq, delivery id) order after a cursor, up to a seq, and counts them", async () => {
    const store = sqliteStore({ path: join(dir, "pages.db") });
    await store.open();
    expect(await store.openDeliveryCount!()).toEqual({ open: 0, lastSeq: 0 });
    await store.insertEvents(
      Array.from({ length: 5 }, (_, i) => ({
        event: event("w1", `e${i}`),
        deliveries: [delivery("w1", `e${i}`, "r2"), delivery("w1", `e${i}`, "r1", i === 1 ? { status: "completed", completed_at: 5 } : {})],
      })),
    );
    expect(await store.openDeliveryCount!()).toEqual({ open: 9, lastSeq: 5 });
    const ids = (rows: Array<{ delivery: DeliveryRow; event: EventRow }>) => rows.map((r) => `${r.event.seq}:${r.delivery.rule_id}`);
    const first = await store.openDeliveryPage!({ limit: 3 });
    expect(ids(first)).toEqual(["1:r1", "1:r2", "2:r2"]);
    expect(first[0]!.event.payload).toEqual({ email: "alex@northstar.io", nested: { n: 1 } });
    const last = first[2]!;
    expect(ids(await store.openDeliveryPage!({ after: { seq: last.event.seq!, id: last.delivery.id }, limit: 3 }))).toEqual(["3:r1", "3:r2", "4:r1"]);
    // After a whole event, and no further than an event seq.
    expect(ids(await store.openDeliveryPage!({ after: { seq: 3 }, throughSeq: 4, limit: 10 }))).toEqual(["4:r1", "4:r2"]);
    // A delivery that finishes is not read again.
    const done = first[1]!.delivery;
    await store.write({ deliveries: [{ ...done, status: "canceled", completed_at: 9 }], attempts: [] });
    expect(ids(await store.openDeliveryPage!({ limit: 2 }))).toEqual(["1:r1", "2:r2"]);
    expect((await store.openDeliveryCount!()).open).toBe(8);
    await store.close();
  });

  it("refuses a database from a newer version", async () => {
    const path = join(dir, "future.db");
    const db = new Database(path);
    db.pragma("user_version = 99");
    db.close();
    await expect(sqliteStore({ path }).open()).rejects.toMatchObject({ code: "store_version" });
  });
});

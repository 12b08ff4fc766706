import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as WorkerThreads from "node:worker_threads";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it, vi } from "vitest";
import { sqliteStore, type SqliteStoreOptions } from "./sqlite.js";
import { attempt, delivery as deliveryRow, event as eventRow } from "../__fixtures__/rows.js";
import type { DeliveryRow, Store } from "../types.js";

// Every worker thread the store starts, to find its writer thread (and stop it, as a crash would).
const workers = vi.hoisted(() => [] as Array<{ worker: WorkerThreads.Worker; file: string }>);
vi.mock("node:worker_threads", async (importOriginal) => {
  const actual = await importOriginal<typeof WorkerThreads>();
  class RecordedWorker extends actual.Worker {
    constructor(...args: ConstructorParameters<typeof actual.Worker>) {
      super(...args);
      workers.push({ worker: this, file: String(args[0]) });
    }
  }
  return { ...actual, Worker: RecordedWorker, default: { ...actual, Worker: RecordedWorker } };
});
const writerThreads = () => workers.filter((w) => w.file.includes("runWriterThread"));

const dir = mkdtempSync(join(tmpdir(), "meshwork-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `writer-${n++}.db`);

const event = (id: string) => eventRow("w1", id, { seq: 0 });
const delivery = (eventId: string, rule: string, extra: Partial<DeliveryRow> = {}) => deliveryRow("w1", eventId, rule, extra);

async function opened(options: Partial<SqliteStoreOptions> = {}): Promise<Store> {
  const store = sqliteStore({ path: file(), ...options });
  await store.open();
  return store;
}

/** The stored row, read through the store. */
async function stored(store: Store, row: DeliveryRow): Promise<DeliveryRow> {
  const found = await store.getDelivery(row.workspace, row.event_id, row.rule_id);
  return found!.delivery;
}

describe("sqlite store writer thread", () => {
  it("writes from a worker thread for a file, and on the caller's thread inline or in memory", async () => {
    const before = writerThreads().length;
    const threaded = await opened();
    expect(writerThreads()).toHaveLength(before + 1);
    const inline = await opened({ writer: "inline" });
    const memory = sqliteStore({ path: ":memory:" });
    await memory.open();
    expect(writerThreads()).toHaveLength(before + 1);
    for (const store of [threaded, inline, memory]) {
      const d = delivery("e1", "r1");
      await store.insertEvents([{ event: event("e1"), deliveries: [d] }]);
      await store.write({ deliveries: [{ ...d, status: "completed", attempt_count: 1, completed_at: 2000, updated_at: 2000 }], attempts: [attempt(d, 1, { outcome: "delivered" })] });
      expect((await store.getEvents("e1"))[0]).toMatchObject({ status: "completed", completed_count: 1 });
      expect(await store.listAttempts(d.id)).toHaveLength(1);
      await store.close();
    }
  });

  it("keeps the last write of a row through every update shape", async () => {
    for (const writer of ["thread", "inline"] as const) {
      const store = await opened({ writer });
      // The engine's own objects: inserted, then changed and written again and again.
      const row = delivery("e1", "r1");
      const other = delivery("e1", "r2");
      await store.insertEvents([{ event: event("e1"), deliveries: [row, other] }]);
      const expectStored = async () => expect(await stored(store, row)).toEqual(row);

      // The first attempt starts: only unindexed columns change.
      Object.assign(row, { status: "processing", attempt_count: 1, updated_at: 2000 });
      await store.write({ deliveries: [row], attempts: [] });
      await expectStored();
      expect((await store.getEvents("e1"))[0]!.status).toBe("processing");
      // A retry is scheduled: next_attempt_at changes.
      Object.assign(row, { status: "retrying", next_attempt_at: 9000, last_error: "503", last_outcome: "rejected_server_error", updated_at: 2100 });
      await store.write({ deliveries: [row], attempts: [attempt(row, 1)] });
      await expectStored();
      expect((await store.dueDeliveries(8000, 10)).map((d) => d.delivery.id)).toEqual([other.id]);
      expect((await store.dueDeliveries(9000, 10)).map((d) => d.delivery.id).sort()).toEqual([row.id, other.id].sort());
      // It ends: completed_at changes.
      Object.assign(row, { status: "completed", attempt_count: 2, next_attempt_at: null, last_error: null, last_outcome: "delivered", updated_at: 9100, completed_at: 9100 });
      await store.write({ deliveries: [row], attempts: [attempt(row, 2, { outcome: "delivered", status: 200, retryable: false })] });
      await expectStored();
      expect((await store.openDeliveries()).map((d) => d.delivery.id)).toEqual([other.id]);
      expect((await store.getEvents("e1"))[0]).toMatchObject({ status: "processing", completed_count: 1 });
      // A manual retry opens it again.
      Object.assign(row, { status: "pending", round_start: 2, updated_at: 9500, completed_at: null });
      await store.write({ deliveries: [row], attempts: [] });
      await expectStored();
      expect((await store.openDeliveries()).map((d) => d.delivery.id).sort()).toEqual([row.id, other.id].sort());
      expect((await store.getEvents("e1"))[0]).toMatchObject({ status: "processing", completed_count: 0 });
      // A copy starts without what the store knows of the original, and is written in full.
      const copy = { ...row, status: "canceled" as const, updated_at: 9600, completed_at: 9600 };
      await store.write({ deliveries: [copy], attempts: [] });
      expect(await stored(store, row)).toEqual(copy);
      await store.close();
    }
  });

  it("writes a row in full while another write of it is not committed yet", async () => {
    const store = await opened();
    const row = delivery("e1", "r1");
    await store.insertEvents([{ event: event("e1"), deliveries: [row] }]);
    // Not awaited: the second write must not rely on what the first one will have written.
    Object.assign(row, { status: "retrying", attempt_count: 1, next_attempt_at: 5000, updated_at: 2000 });
    const first = store.write({ deliveries: [row], attempts: [] });
    Object.assign(row, { status: "processing", attempt_count: 2, next_attempt_at: null, updated_at: 3000 });
    const second = store.write({ deliveries: [row], attempts: [] });
    await Promise.all([first, second]);
    expect(await stored(store, row)).toEqual(row);

    // A row read while a write is pending may predate it: written back, it is written as it was read.
    Object.assign(row, { status: "retrying", next_attempt_at: 6000, updated_at: 3500 });
    const third = store.write({ deliveries: [row], attempts: [] });
    const read = await stored(store, row);
    await third;
    Object.assign(read, { updated_at: 4000 });
    await store.write({ deliveries: [read], attempts: [] });
    expect(await stored(store, row)).toEqual(read);
    await store.close();
  });

  it("rolls a failed write back and rejects it with store_error", async () => {
    for (const writer of ["thread", "inline"] as const) {
      const store = await opened({ writer });
      const row = delivery("e1", "r1");
      await store.insertEvents([{ event: event("e1"), deliveries: [row] }]);
      // Two events whose deliveries share an id: the second insert breaks the primary key.
      const clash = await store.insertEvents([
        { event: event("e2"), deliveries: [delivery("e2", "r1", { id: "same" })] },
        { event: event("e3"), deliveries: [delivery("e3", "r1", { id: "same" })] },
      ]).catch((error: unknown) => error);
      expect(clash).toMatchObject({ name: "MeshworkRulesError", code: "store_error", retryable: false });
      expect((clash as Error).message).toMatch(/SQLite insert failed: .*UNIQUE constraint failed/);
      expect(await store.getEvents("e2")).toEqual([]);

      // An attempt without its message breaks a NOT NULL constraint: the delivery's change goes too.
      const before = await stored(store, row);
      Object.assign(row, { status: "retrying", attempt_count: 1, next_attempt_at: 7000, updated_at: 2000 });
      const failed = await store.write({ deliveries: [row], attempts: [attempt(row, 1, { message: null as unknown as string })] }).catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: "store_error", retryable: false });
      expect((failed as Error).message).toMatch(/SQLite write failed: .*NOT NULL/);
      expect(await stored(store, row)).toEqual(before);
      // Sent again without the bad attempt, the change is written in full.
      await store.write({ deliveries: [row], attempts: [] });
      expect(await stored(store, row)).toEqual(row);
      await store.close();
    }
  });

  it("keeps nothing of a write that fails in any of its parts", async () => {
    for (const writer of ["thread", "inline"] as const) {
      const store = await opened({ writer });
      const row = delivery("e1", "r1");
      const next = delivery("e1", "r2");
      await store.insertEvents([{ event: event("e1"), deliveries: [row, next] }]);
      const before = await stored(store, row);
      // Enough attempts for several parts; the first one breaks a constraint.
      const attempts = Array.from({ length: 100 }, (_, i) => attempt(row, i + 1, i === 0 ? { message: null as unknown as string } : {}));
      const failed = await store.write({ deliveries: [{ ...row, status: "failed", attempt_count: 100, completed_at: 5000 }], attempts }).catch((error: unknown) => error);
      expect(failed).toMatchObject({ code: "store_error", retryable: false });
      expect(await stored(store, row)).toEqual(before);
      expect(await store.listAttempts(row.id)).toEqual([]);

      // An attempt that cannot be serialized, after some parts went: they are dropped too.
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const unserializable = Array.from({ length: 100 }, (_, i) => attempt(row, i + 1, i === 99 ? { notes: [circular as unknown as string] } : {}));
      const refused = await store.write({ deliveries: [{ ...row, status: "retrying", attempt_count: 100, next_attempt_at: 9000 }], attempts: unserializable }).catch((error: unknown) => error);
      expect(refused).toMatchObject({ code: "store_error" });
      expect((refused as Error).message).toMatch(/SQLite write failed: .*circular/i);
      // The same with attempts only.
      await expect(store.write({ deliveries: [], attempts: unserializable })).rejects.toMatchObject({ code: "store_error" });
      // The next write commits alone.
      await store.write({ deliveries: [{ ...next, status: "processing", attempt_count: 1 }], attempts: [attempt(next, 1)] });
      expect(await stored(store, row)).toEqual(before);
      expect(await store.listAttempts(row.id)).toEqual([]);
      expect(await store.listAttempts(next.id)).toHaveLength(1);
      await store.close();
    }
  });

  it("reports a database locked by another connection as a retryable store_error", async () => {
    const path = file();
    const store = sqliteStore({ path, busyTimeoutMs: 50 });
    await store.open();
    const row = delivery("e1", "r1");
    await store.insertEvents([{ event: event("e1"), deliveries: [row] }]);
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    const locked = await store.write({ deliveries: [{ ...row, status: "processing", attempt_count: 1 }], attempts: [] }).catch((error: unknown) => error);
    expect(locked).toMatchObject({ code: "store_error", retryable: true });
    expect((locked as Error).message).toMatch(/database is locked/);
    other.exec("ROLLBACK");
    other.close();
    await store.write({ deliveries: [{ ...row, status: "processing", attempt_count: 1 }], attempts: [] });
    expect((await stored(store, row)).status).toBe("processing");
    await store.close();
  });

  it("fails the writes waiting on a writer thread that stopped, and starts a new one for the next", async () => {
    const store = await opened();
    const thread = writerThreads().at(-1)!.worker;
    const row = delivery("e1", "r1");
    await store.insertEvents([{ event: event("e1"), deliveries: [row] }]);
    const stopping = thread.terminate();
    Object.assign(row, { status: "processing", attempt_count: 1, updated_at: 2000 });
    const lost = await store.write({ deliveries: [row], attempts: [] }).catch((error: unknown) => error);
    await stopping;
    expect(lost).toMatchObject({ code: "store_error", retryable: true });
    expect((lost as Error).message).toMatch(/SQLite write failed: the writer thread stopped/);
    // The next write gets a new thread; the row was not tagged, so it is written in full.
    const threads = writerThreads().length;
    await store.write({ deliveries: [row], attempts: [] });
    expect(writerThreads()).toHaveLength(threads + 1);
    expect(await stored(store, row)).toEqual(row);
    await store.close();
  });

  it("commits the writes sent before close, then refuses new ones", async () => {
    const path = file();
    const store = sqliteStore({ path });
    await store.open();
    const rows = Array.from({ length: 50 }, (_, i) => delivery(`e${i}`, "r1"));
    const inserts = rows.map((row) => store.insertEvents([{ event: event(row.event_id), deliveries: [row] }]));
    const closing = store.close();
    expect((await Promise.all(inserts)).map(([result]) => result!.inserted)).toEqual(rows.map(() => true));
    await closing;
    await expect(store.write({ deliveries: [rows[0]!], attempts: [] })).rejects.toMatchObject({ code: "store_closed" });
    await expect(store.insertEvents([{ event: event("late"), deliveries: [] }])).rejects.toMatchObject({ code: "store_closed" });

    const again = sqliteStore({ path });
    await again.open();
    expect(await again.listEvents({ limit: 100 })).toHaveLength(50);
    // The engine's pattern: the last flush is sent, then the store closed at once.
    const last = rows[49]!;
    Object.assign(last, { status: "completed", attempt_count: 1, completed_at: 3000, updated_at: 3000 });
    const flushed = again.write({ deliveries: [last], attempts: [attempt(last, 1, { outcome: "delivered" })] });
    await again.close();
    await flushed;
    const db = new Database(path, { readonly: true });
    expect(db.prepare("SELECT status FROM deliveries WHERE id = ?").pluck().get(last.id)).toBe("completed");
    expect(db.prepare("SELECT count(*) FROM attempts").pluck().get()).toBe(1);
    db.close();
  });

  it("moves attempts written by an older version into the new table", async () => {
    const path = file();
    const store = sqliteStore({ path });
    await store.open();
    await store.close();
    // Version 3's attempts table, with one attempt.
    const db = new Database(path);
    db.exec(`
      DROP TABLE attempts;
      CREATE TABLE attempts (
        delivery_id TEXT NOT NULL, attempt INTEGER NOT NULL, workspace TEXT NOT NULL, event_id TEXT NOT NULL, rule_id TEXT NOT NULL,
        started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, status INTEGER, outcome TEXT NOT NULL, retryable INTEGER NOT NULL,
        message TEXT NOT NULL, detail TEXT, PRIMARY KEY (delivery_id, attempt)
      ) WITHOUT ROWID;
      INSERT INTO attempts VALUES ('d1', 1, 'w1', 'e1', 'r1', 2000, 12, 503, 'rejected_server_error', 1, 'answered 503', '{"exchanges":[],"notes":["old"]}');
    `);
    db.pragma("user_version = 3");
    db.close();
    const again = sqliteStore({ path });
    await again.open();
    expect(await again.listAttempts("d1")).toMatchObject([{ attempt: 1, message: "answered 503", retryable: true, notes: ["old"] }]);
    await again.close();
    const check = new Database(path, { readonly: true });
    expect(check.pragma("user_version", { simple: true })).toBe(5);
    expect(check.prepare("SELECT sql FROM sqlite_master WHERE name = 'attempts'").pluck().get()).not.toMatch(/WITHOUT ROWID/);
    check.close();
  });
});

import type * as WorkerThreads from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";
import type { DeliveryRow } from "../types.js";
import { summarizeDeliveries } from "./shared.js";

// The SQLite store's write transactions. `sqliteStore` serializes each call into the flat arrays
// below on the engine's thread, and hands them to `createWriter`'s functions either on that
// thread (`writer: "inline"`, `":memory:"`) or in a writer thread with its own connection.
//
// The writer thread runs these functions, and `summarizeDeliveries` (an event's status from its
// deliveries, shared with the other stores), from their source text (`String(createWriter)`, see
// `writerThreadSource`), so it needs no file of its own and works the same from the sources, the
// built package or an application's bundle. These functions must therefore be self-contained: they
// use only their arguments and JavaScript's globals (no imports, no module-level constants), and
// stay clear of syntax a transpiler would rewrite into a helper call (for...of, spread,
// destructuring, classes).

/** A column value as it crosses to the writer: structured-cloned, so plain values only. */
export type Value = string | number | null;

/**
 * Values per event in `insert`: workspace, id, event, resource, resource_id, payload (JSON),
 * created_by, created_at, status, total_rules; then its `total_rules` deliveries, each with
 * `INSERT_DELIVERY_VALUES` values.
 */
export const INSERT_EVENT_VALUES = 10;
/**
 * id, workspace, event_id, rule_id, connection, action, integration_type, event, status,
 * attempt_count, round_start, next_attempt_at, last_error, last_outcome, idempotency_key,
 * created_at, updated_at, completed_at.
 */
export const INSERT_DELIVERY_VALUES = 18;
/**
 * Values per delivery in `write`: shape, id, status, attempt_count, round_start, last_error,
 * last_outcome, updated_at, next_attempt_at, completed_at, and the event's seq (null when the
 * store does not know it: `SHAPE_ALL` only, and the writer answers it).
 */
export const WRITE_DELIVERY_VALUES = 11;
/**
 * Values per attempt in `write`: delivery_id, attempt, workspace, event_id, rule_id, started_at,
 * duration_ms, status, outcome, retryable (0/1), message, detail (JSON or null).
 */
export const WRITE_ATTEMPT_VALUES = 12;

/** The unindexed columns only. */
export const SHAPE_QUIET = 0;
/** Also `next_attempt_at`. */
export const SHAPE_NEXT = 1;
/** Every column: a row not written before, or whose end (`completed_at`) changed. */
export const SHAPE_ALL = 2;

/** Answers of `insert`: per event, its seq when stored, or the stored row when the workspace had that id already. */
export type InsertAnswer = Array<number | Record<string, unknown>>;

/** The store's writes, each one transaction. */
export interface Writer {
  /** Stores events with their deliveries (`INSERT_EVENT_VALUES`). */
  insert(values: Value[]): InsertAnswer;
  /**
   * Applies delivery changes (`WRITE_DELIVERY_VALUES`), appends attempts and refreshes the
   * events' status. Answers the event seq of every row sent without one, in order (null: no
   * such delivery, nothing written for it).
   */
  write(deliveries: Value[], attempts: Value[]): Array<number | null>;
  /** Records a disabled connection, or forgets it (`disabledAt` null). */
  setConnectionStatus(connection: string, disabledAt: number | null, reason: string | null): void;
}

/**
 * Prepares the write statements on `db` (migrated already). Self-contained (see above): the
 * numbers of values per row and the shapes are the constants above, spelled out.
 */
export function createWriter(db: BetterSqlite3.Database, summarize: typeof summarizeDeliveries): Writer {
  const insertEvent = db.prepare(
    `INSERT INTO events (workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, id) DO NOTHING`,
  );
  const findEvent = db.prepare(
    `SELECT seq, workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules, completed_count, failed_count
     FROM events WHERE workspace = ? AND id = ?`,
  );
  const insertDelivery = db.prepare(
    `INSERT INTO deliveries (id, event_seq, workspace, event_id, rule_id, connection, action, integration_type, event, status,
       attempt_count, round_start, next_attempt_at, last_error, last_outcome, idempotency_key, created_at, updated_at, completed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // Three shapes of update, so SQLite maintains the open-deliveries index (on completed_at) only
  // when needed, and writes next_attempt_at only when it changed.
  const updateBase = "UPDATE deliveries SET status = ?, attempt_count = ?, round_start = ?, last_error = ?, last_outcome = ?, updated_at = ?";
  const updateQuiet = db.prepare(`${updateBase} WHERE id = ?`);
  const updateNext = db.prepare(`${updateBase}, next_attempt_at = ? WHERE id = ?`);
  const updateAll = db.prepare(`${updateBase}, next_attempt_at = ?, completed_at = ? WHERE id = ?`);
  // For a row whose event the store does not know yet (RETURNING costs about 1 µs a row).
  const updateAllReturning = db.prepare(`${updateBase}, next_attempt_at = ?, completed_at = ? WHERE id = ? RETURNING event_seq`);
  updateAllReturning.pluck(true);
  const insertAttempt = db.prepare(
    `INSERT OR REPLACE INTO attempts (delivery_id, attempt, workspace, event_id, rule_id, started_at, duration_ms, status, outcome, retryable, message, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // An event's status and counts, recounted from its deliveries by the rule every store shares.
  // Counted here rather than in one UPDATE with a CASE over sum()s: SQLite's aggregates made that
  // 5.7 µs an event, this 3.4.
  const eventDeliveries = db.prepare(`SELECT status, attempt_count FROM deliveries WHERE event_seq = ?`);
  const setEvent = db.prepare(`UPDATE events SET status = ?, completed_count = ?, failed_count = ? WHERE seq = ?`);
  const refreshEvent = (seq: number): void => {
    const summary = summarize(eventDeliveries.all(seq) as Array<Pick<DeliveryRow, "status" | "attempt_count">>);
    setEvent.run(summary.status, summary.completed_count, summary.failed_count, seq);
  };
  const startEvent = db.prepare(`UPDATE events SET status = 'processing' WHERE seq = ? AND status = 'pending'`);
  const putStatus = db.prepare(`INSERT OR REPLACE INTO connection_status (connection, disabled_at, reason) VALUES (?, ?, ?)`);
  const deleteStatus = db.prepare(`DELETE FROM connection_status WHERE connection = ?`);

  const insert = db.transaction((v: Value[]): InsertAnswer => {
    const answers: InsertAnswer = [];
    let i = 0;
    while (i < v.length) {
      const count = v[i + 9] as number;
      const info = insertEvent.run(v[i], v[i + 1], v[i + 2], v[i + 3], v[i + 4], v[i + 5], v[i + 6], v[i + 7], v[i + 8], count);
      if (info.changes === 0) {
        answers.push(findEvent.get(v[i], v[i + 1]) as Record<string, unknown>);
        i += 10 + count * 18;
        continue;
      }
      const seq = Number(info.lastInsertRowid);
      i += 10;
      for (let d = 0; d < count; d++, i += 18) {
        insertDelivery.run(
          v[i], seq, v[i + 1], v[i + 2], v[i + 3], v[i + 4], v[i + 5], v[i + 6], v[i + 7], v[i + 8], v[i + 9],
          v[i + 10], v[i + 11], v[i + 12], v[i + 13], v[i + 14], v[i + 15], v[i + 16], v[i + 17],
        );
      }
      answers.push(seq);
    }
    return answers;
  });

  const write = db.transaction((d: Value[], a: Value[]): Array<number | null> => {
    const seqs: Array<number | null> = [];
    // Events whose status to recount, and events whose first attempt started.
    const touched = new Set<number>();
    const started = new Set<number>();
    for (let i = 0; i < d.length; i += 11) {
      const shape = d[i];
      let seq: number | undefined;
      if (shape === 2 && d[i + 10] !== null) {
        seq = d[i + 10] as number;
        if (updateAll.run(d[i + 2], d[i + 3], d[i + 4], d[i + 5], d[i + 6], d[i + 7], d[i + 8], d[i + 9], d[i + 1]).changes === 0) continue;
      } else if (shape === 2) {
        seq = updateAllReturning.get(d[i + 2], d[i + 3], d[i + 4], d[i + 5], d[i + 6], d[i + 7], d[i + 8], d[i + 9], d[i + 1]) as number | undefined;
        seqs.push(seq === undefined ? null : seq);
        if (seq === undefined) continue;
      } else {
        seq = d[i + 10] as number;
        if (shape === 1) updateNext.run(d[i + 2], d[i + 3], d[i + 4], d[i + 5], d[i + 6], d[i + 7], d[i + 8], d[i + 1]);
        else updateQuiet.run(d[i + 2], d[i + 3], d[i + 4], d[i + 5], d[i + 6], d[i + 7], d[i + 1]);
      }
      // Only a change that can move the event's status needs the event refreshed: an end or a
      // reopening (recounted), or the first attempt of a round (a pending event starts).
      const status = d[i + 2];
      if (status === "completed" || status === "failed" || status === "canceled" || status === "pending") touched.add(seq);
      else if (d[i + 3] === (d[i + 4] as number) + 1) started.add(seq);
    }
    for (let i = 0; i < a.length; i += 12) {
      insertAttempt.run(a[i], a[i + 1], a[i + 2], a[i + 3], a[i + 4], a[i + 5], a[i + 6], a[i + 7], a[i + 8], a[i + 9], a[i + 10], a[i + 11]);
    }
    touched.forEach(refreshEvent);
    started.forEach((seq) => {
      if (!touched.has(seq)) startEvent.run(seq);
    });
    return seqs;
  });

  const setConnectionStatus = (connection: string, disabledAt: number | null, reason: string | null): void => {
    if (disabledAt === null) deleteStatus.run(connection);
    else putStatus.run(connection, disabledAt, reason);
  };

  return { insert, write, setConnectionStatus };
}

/** What the store passes the writer thread. */
export interface WriterThreadData {
  /** better-sqlite3, resolved by the store. */
  module: string;
  path: string;
  synchronous: "NORMAL" | "FULL";
  busyTimeoutMs: number;
  autocheckpoint: number;
}

/**
 * The writer thread: opens its connection and applies the messages it gets, one at a time in the
 * order they were posted. Messages in: `[kind, ...arguments]`. Each is answered by one message
 * out, in the same order: `[true, result]` once committed, or `[false, { name, message, code }]`
 * after a rollback. The first message out, `[true, "ready"]`, says the connection is open;
 * `close` closes it and ends the thread. Self-contained (see above).
 */
export function runWriterThread(load: (id: string) => unknown, create: typeof createWriter, summarize: typeof summarizeDeliveries): void {
  const threads = load("node:worker_threads") as typeof WorkerThreads;
  const port = threads.parentPort!;
  const data = threads.workerData as WriterThreadData;
  const Database = load(data.module) as typeof BetterSqlite3;
  const db = new Database(data.path);
  db.pragma(`synchronous = ${data.synchronous}`);
  db.pragma(`busy_timeout = ${data.busyTimeoutMs}`);
  db.pragma("temp_store = MEMORY");
  db.pragma("cache_size = -32000");
  db.pragma(`wal_autocheckpoint = ${data.autocheckpoint}`);
  const writer = create(db, summarize);
  const fail = (error: unknown) => {
    const e = error as { name?: string; message?: string; code?: string };
    port.postMessage([false, { name: e.name || "Error", message: e.message || String(error), code: e.code || "" }]);
  };
  port.on("message", (message: unknown[]) => {
    const kind = message[0];
    try {
      if (kind === "insert") port.postMessage([true, writer.insert(message[1] as Value[])]);
      else if (kind === "write") port.postMessage([true, writer.write(message[1] as Value[], message[2] as Value[])]);
      else if (kind === "status") {
        writer.setConnectionStatus(message[1] as string, message[2] as number | null, message[3] as string | null);
        port.postMessage([true, null]);
      } else if (kind === "autocheckpoint") {
        db.pragma(`wal_autocheckpoint = ${Number(message[1])}`);
        port.postMessage([true, null]);
      } else if (kind === "close") {
        db.close();
        port.postMessage([true, null]);
        port.close();
      } else throw new Error(`unknown message ${String(kind)}`);
    } catch (error) {
      fail(error);
    }
  });
  port.postMessage([true, "ready"]);
}

/**
 * The writer thread's source, for `new Worker(source, { eval: true })`. `__name` stands in for the
 * helper a bundler that keeps function names (esbuild's keepNames) wraps functions with.
 */
export function writerThreadSource(): string {
  return `"use strict";\nvar __name = function (f) { return f; };\n(${String(runWriterThread)})(require, ${String(createWriter)}, ${String(summarizeDeliveries)});\n`;
}

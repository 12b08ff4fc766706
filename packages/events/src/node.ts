import Database from "better-sqlite3";
import { MeshworkValidationError } from "./errors.js";
import type { EventQueue, QueuedEvent } from "./types.js";

/** Options of `sqliteQueue`. */
export interface SqliteQueueOptions {
  /** Database file; created when missing. */
  path: string;
  /** Default `meshwork_events`. */
  table?: string;
  /** `"normal"` (default) survives a crash of the process; `"full"` also a power loss, at a cost per `emit`. */
  synchronous?: "normal" | "full";
}

/** The queue `sqliteQueue` returns: synchronous throughout, as better-sqlite3 is. */
export interface SqliteQueue extends EventQueue {
  load(): QueuedEvent[];
  close(): void;
}

/**
 * A durable `EventQueue` on SQLite (better-sqlite3, WAL): each event is written before `emit`
 * returns and deleted once acknowledged, so events survive a crash and are sent, ids unchanged,
 * by the next process that opens the same file. One client per file at a time.
 *
 * @example
 * ```ts
 * import { createClient } from "@meshwork/events";
 * import { sqliteQueue } from "@meshwork/events/node";
 * const meshwork = createClient({ publishableKey, endpoint, queue: sqliteQueue({ path: "events-queue.db" }) });
 * ```
 */
export function sqliteQueue(options: SqliteQueueOptions): SqliteQueue {
  const table = options.table ?? "meshwork_events";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new MeshworkValidationError("table", "invalid_option", "must be a plain SQL identifier");
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
  db.exec(
    `CREATE TABLE IF NOT EXISTS ${table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL)`,
  );
  const insert = db.prepare<[string, string]>(`INSERT OR IGNORE INTO ${table} (id, body) VALUES (?, ?)`);
  const remove = db.prepare<[string]>(`DELETE FROM ${table} WHERE id = ?`);
  const removeAll = db.transaction((ids: readonly string[]) => {
    for (const id of ids) remove.run(id);
  });
  const all = db.prepare<[], QueuedEvent>(`SELECT id, body FROM ${table} ORDER BY seq`);
  return {
    load: () => all.all(),
    add(event) {
      insert.run(event.id, event.body);
    },
    remove(ids) {
      if (db.open) removeAll(ids);
    },
    close() {
      if (db.open) db.close();
    },
  };
}

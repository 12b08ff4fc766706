import Database from "better-sqlite3";
import { MeshworkServerError } from "./errors.js";
import type { IdempotencyRecord, IdempotencyStore } from "./types.js";

/**
 * Keeps Idempotency-Key answers in memory, bounded by `maxBytes` of stored bodies (the oldest go
 * first). Answers are lost on restart; use `sqliteIdempotencyStore` for a durable cache.
 *
 * @example
 * createServer({ config, idempotency: memoryIdempotencyStore({ maxBytes: 32 * 1024 * 1024 }) });
 */
export function memoryIdempotencyStore(options: { maxBytes?: number } = {}): IdempotencyStore {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const records = new Map<string, IdempotencyRecord>();
  let bytes = 0;
  const id = (workspace: string, key: string) => `${workspace}\u0000${key}`;
  const size = (r: IdempotencyRecord) => r.body.length + r.key.length + r.fingerprint.length + 64;
  const drop = (k: string, r: IdempotencyRecord) => {
    records.delete(k);
    bytes -= size(r);
  };

  return {
    name: "memory",
    async open() {},
    async close() {},
    async get(workspace, key, notBefore) {
      const record = records.get(id(workspace, key));
      return record && record.createdAt >= notBefore ? record : undefined;
    },
    async put(record) {
      const k = id(record.workspace, record.key);
      if (records.has(k)) return;
      records.set(k, record);
      bytes += size(record);
      for (const [oldest, r] of records) {
        if (bytes <= maxBytes || oldest === k) break;
        drop(oldest, r);
      }
    },
    async purge(before) {
      let n = 0;
      // Insertion order is creation order: stop at the first record young enough to keep.
      for (const [k, r] of records) {
        if (r.createdAt >= before) break;
        drop(k, r);
        n++;
      }
      return n;
    },
  };
}

/** Options of `sqliteIdempotencyStore`. */
export interface SqliteIdempotencyStoreOptions {
  /** The database file; the server uses its `--db` file, beside the engine's tables. */
  path: string;
  /** Default `meshwork_idempotency`. */
  table?: string;
  /** How long to wait for a lock held by another connection, ms. Default 5000. */
  busyTimeoutMs?: number;
}

/**
 * Keeps Idempotency-Key answers in a SQLite table (WAL), so a retry after a restart still gets
 * the original answer. Shares the engine's database file through its own connection.
 *
 * @example
 * createServer({ config, db: "meshwork.db" }); // uses sqliteIdempotencyStore({ path: "meshwork.db" })
 */
export function sqliteIdempotencyStore(options: SqliteIdempotencyStoreOptions): IdempotencyStore {
  const table = options.table ?? "meshwork_idempotency";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new MeshworkServerError("invalid_argument", `sqliteIdempotencyStore: table ${JSON.stringify(table)} is not a plain SQL name`);
  let db: Database.Database | undefined;
  let statements:
    | { get: Database.Statement<[string, string, number]>; put: Database.Statement<unknown[]>; purge: Database.Statement<[number]> }
    | undefined;

  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      const code = String((error as { code?: unknown }).code ?? "");
      throw new MeshworkServerError("idempotency_store_error", `SQLite idempotency ${what} failed: ${(error as Error).message}`, {
        retryable: /BUSY|LOCKED|IOERR|FULL/.test(code),
        cause: error,
      });
    }
  };
  const ready = () => {
    if (!statements) throw new MeshworkServerError("idempotency_store_closed", "the idempotency store is not open", { retryable: true });
    return statements;
  };

  return {
    name: "sqlite",
    async open() {
      if (db) return;
      const d = wrap("open", () => new Database(options.path));
      try {
        wrap("open", () => {
          d.pragma("journal_mode = WAL");
          d.pragma("synchronous = NORMAL");
          d.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
          d.exec(
            `CREATE TABLE IF NOT EXISTS ${table} (
               workspace TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
               status INTEGER NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
               PRIMARY KEY (workspace, key)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS ${table}_created_at ON ${table} (created_at);`,
          );
          statements = {
            get: d.prepare(`SELECT workspace, key, fingerprint, status, body, created_at AS createdAt FROM ${table} WHERE workspace = ? AND key = ? AND created_at >= ?`),
            put: d.prepare(`INSERT OR IGNORE INTO ${table} (workspace, key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
            purge: d.prepare(`DELETE FROM ${table} WHERE created_at < ?`),
          };
        });
      } catch (error) {
        d.close();
        throw error;
      }
      db = d;
    },
    async close() {
      if (!db) return;
      db.close();
      db = undefined;
      statements = undefined;
    },
    async get(workspace, key, notBefore) {
      const s = ready();
      return wrap("read", () => s.get.get(workspace, key, notBefore) as IdempotencyRecord | undefined);
    },
    async put(record) {
      const s = ready();
      wrap("write", () => s.put.run(record.workspace, record.key, record.fingerprint, record.status, record.body, record.createdAt));
    },
    async purge(before) {
      const s = ready();
      return wrap("purge", () => s.purge.run(before).changes);
    },
  };
}

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
  /** The database file; the server uses `<db>-idempotency`, beside the engine's file. */
  path: string;
  /** Default `meshwork_idempotency`. */
  table?: string;
  /**
   * How long a write waits for a lock held by another connection, ms. Default 5000. The wait is
   * a timer, not SQLite's busy handler, so the event loop never sleeps while another connection
   * (another process, or an engine sharing the file) commits.
   */
  busyTimeoutMs?: number;
}

const isBusy = (error: unknown) => /^SQLITE_BUSY/.test(String((error as { code?: unknown }).code ?? ""));

/**
 * Keeps Idempotency-Key answers in a SQLite table (WAL), so a retry after a restart still gets
 * the original answer.
 *
 * @example
 * createServer({ config, db: "meshwork.db" }); // uses sqliteIdempotencyStore({ path: "meshwork.db-idempotency" })
 */
export function sqliteIdempotencyStore(options: SqliteIdempotencyStoreOptions): IdempotencyStore {
  const table = options.table ?? "meshwork_idempotency";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) throw new MeshworkServerError("invalid_argument", `sqliteIdempotencyStore: table ${JSON.stringify(table)} is not a plain SQL name`);
  let db: Database.Database | undefined;
  let statements:
    | { get: Database.Statement<[string, string, number]>; putMany: (records: IdempotencyRecord[]) => void; purge: Database.Statement<[number]> }
    | undefined;

  const failure = (what: string, error: unknown) =>
    new MeshworkServerError("idempotency_store_error", `SQLite idempotency ${what} failed: ${(error as Error).message}`, {
      retryable: /BUSY|LOCKED|IOERR|FULL/.test(String((error as { code?: unknown }).code ?? "")),
      cause: error,
    });
  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw failure(what, error);
    }
  };
  const ready = () => {
    if (!statements) throw new MeshworkServerError("idempotency_store_closed", "the idempotency store is not open", { retryable: true });
    return statements;
  };
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;

  /** Runs a write, trying again on a timer while another connection holds the lock. */
  const write = <T>(what: string, fn: () => T): Promise<T> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const attempt = (delayMs: number) => {
        try {
          resolve(fn());
        } catch (error) {
          if (isBusy(error) && Date.now() - started < busyTimeoutMs) setTimeout(attempt, delayMs, Math.min(delayMs * 2, 50));
          else reject(failure(what, error));
        }
      };
      attempt(1);
    });

  /** Puts arriving in the same turn of the event loop share one transaction. */
  let queued: Array<{ record: IdempotencyRecord; resolve: () => void; reject: (error: unknown) => void }> = [];
  const writing = new Set<Promise<void>>();
  const writeQueued = (): Promise<void> => {
    const batch = queued;
    queued = [];
    const done = (async () => {
      const s = ready();
      await write("write", () => s.putMany(batch.map((item) => item.record)));
    })().then(
      () => batch.forEach((item) => item.resolve()),
      (error: unknown) => batch.forEach((item) => item.reject(error)),
    );
    writing.add(done);
    void done.then(() => writing.delete(done));
    return done;
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
          d.pragma("busy_timeout = 0");
          d.exec(
            `CREATE TABLE IF NOT EXISTS ${table} (
               workspace TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
               status INTEGER NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
               PRIMARY KEY (workspace, key)
             ) WITHOUT ROWID;
             CREATE INDEX IF NOT EXISTS ${table}_created_at ON ${table} (created_at);`,
          );
          const put = d.prepare(`INSERT OR IGNORE INTO ${table} (workspace, key, fingerprint, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)`);
          statements = {
            get: d.prepare(`SELECT workspace, key, fingerprint, status, body, created_at AS createdAt FROM ${table} WHERE workspace = ? AND key = ? AND created_at >= ?`),
            putMany: d.transaction((records: IdempotencyRecord[]) => {
              for (const r of records) put.run(r.workspace, r.key, r.fingerprint, r.status, r.body, r.createdAt);
            }),
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
      if (queued.length) void writeQueued();
      await Promise.all(writing);
      if (!db) return;
      db.close();
      db = undefined;
      statements = undefined;
    },
    async get(workspace, key, notBefore) {
      const s = ready();
      return wrap("read", () => s.get.get(workspace, key, notBefore) as IdempotencyRecord | undefined);
    },
    put(record) {
      ready();
      return new Promise<void>((resolve, reject) => {
        queued.push({ record, resolve, reject });
        if (queued.length === 1) setImmediate(() => void writeQueued());
      });
    },
    purge(before) {
      const s = ready();
      return write("purge", () => s.purge.run(before).changes);
    },
  };
}

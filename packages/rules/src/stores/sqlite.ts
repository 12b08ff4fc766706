import { resolve } from "node:path";
import type { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";
import { MeshworkRulesError } from "../errors.js";
import { createWriter, SHAPE_ALL, SHAPE_NEXT, SHAPE_QUIET, writerThreadSource, type InsertAnswer, type Value, type WriterThreadData } from "./sqlite-writer.js";
import { summarizeDeliveries } from "./shared.js";
import type {
  AttemptRow,
  ConnectionStatusRow,
  DeliveryRow,
  DeliveryWithEvent,
  EventRow,
  InsertResult,
  Store,
  StoreDeliveryQuery,
  StoreEventQuery,
} from "../types.js";

/** Options of `sqliteStore`. */
export interface SqliteStoreOptions {
  /** The database file (created when missing), or `":memory:"`. */
  path: string;
  /**
   * `normal` (default) survives a crash of the process; `full` also survives a power loss,
   * at the cost of an fsync per commit. Both use WAL.
   */
  synchronous?: "normal" | "full";
  /** How long to wait for a lock held by another connection, ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * Where WAL checkpoints run. `"background"` (default for a file): a worker thread with its own
   * connection checkpoints every `checkpointIntervalMs`, so the engine's commits never wait for
   * one (a checkpoint copies pages into the database file and syncs it). `"inline"`: SQLite's own
   * automatic checkpoint, inside a commit every 1000 WAL pages.
   */
  checkpoint?: "background" | "inline";
  /** Default 250. */
  checkpointIntervalMs?: number;
  /**
   * Where write transactions run. `"thread"` (default for a file): a worker thread with its own
   * connection runs them, so the engine's thread only serializes each write and waits for its
   * commit; reads stay on the engine's thread. `"inline"` (always for `":memory:"`, which only
   * its own connection sees): on the engine's thread, one synchronous transaction per write.
   * By default a thread that cannot start (better-sqlite3 not resolvable from a bundle) falls
   * back to inline; with `"thread"` set, `open()` fails instead.
   */
  writer?: "thread" | "inline";
}

/** Runs in a worker thread: checkpoints the WAL from its own connection, off the writer's thread. */
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
const checkpoint = () => { try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {} };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage("closed");
});
`;

/** Schema migrations, applied in order; `PRAGMA user_version` records how many ran. */
const MIGRATIONS: string[] = [
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    workspace TEXT NOT NULL,
    id TEXT NOT NULL,
    event TEXT NOT NULL,
    resource TEXT,
    resource_id TEXT,
    payload TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    total_rules INTEGER NOT NULL,
    completed_count INTEGER NOT NULL DEFAULT 0,
    failed_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX events_workspace_id ON events (workspace, id);
  CREATE INDEX events_id ON events (id);
  CREATE INDEX events_workspace_seq ON events (workspace, seq);
  CREATE INDEX events_workspace_status_seq ON events (workspace, status, seq);
  CREATE INDEX events_workspace_event_seq ON events (workspace, event, seq);

  CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_seq INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    event_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    connection TEXT NOT NULL,
    action TEXT NOT NULL,
    integration_type TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL,
    round_start INTEGER NOT NULL,
    next_attempt_at INTEGER,
    last_error TEXT,
    last_outcome TEXT,
    idempotency_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    completed_at INTEGER
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX deliveries_event_rule ON deliveries (event_seq, rule_id);
  CREATE INDEX deliveries_open ON deliveries (next_attempt_at) WHERE status IN ('pending', 'processing', 'retrying');
  CREATE INDEX deliveries_workspace_status ON deliveries (workspace, status, connection);

  CREATE TABLE attempts (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    event_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    retryable INTEGER NOT NULL,
    message TEXT NOT NULL,
    detail TEXT,
    PRIMARY KEY (delivery_id, attempt)
  ) WITHOUT ROWID;

  CREATE TABLE connection_status (
    connection TEXT PRIMARY KEY,
    disabled_at INTEGER NOT NULL,
    reason TEXT NOT NULL
  );
  `,
  // 2: replays look for failed and canceled deliveries; completed ones (the bulk) stay out of the
  // index, so a successful delivery's status changes do not touch it.
  `
  DROP INDEX deliveries_workspace_status;
  CREATE INDEX deliveries_finished ON deliveries (workspace, status, connection) WHERE status IN ('failed', 'canceled');
  `,
  // 3: open deliveries are the ones not finished (completed_at IS NULL): an attempt's start or a
  // retry's status change no longer moves an index entry, only the end does.
  `
  DROP INDEX deliveries_open;
  CREATE INDEX deliveries_open ON deliveries (next_attempt_at) WHERE completed_at IS NULL;
  `,
  // 4: open deliveries in event order, for an engine that reads its backlog page by page
  // (openDeliveryPage). The key never changes while a delivery is open: a retry's new
  // next_attempt_at no longer moves an index entry either.
  `
  DROP INDEX deliveries_open;
  CREATE INDEX deliveries_open ON deliveries (event_seq, id) WHERE completed_at IS NULL;
  `,
  // 5: attempts move to a rowid table. An attempt's row carries its exchanges (often 1-2 KB),
  // which a WITHOUT ROWID table's B-tree keeps in an overflow page of its own, so each attempt
  // wrote a page or more; a rowid table keeps rows of up to a page inline.
  `
  CREATE TABLE attempts_rowid (
    delivery_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    workspace TEXT NOT NULL,
    event_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status INTEGER,
    outcome TEXT NOT NULL,
    retryable INTEGER NOT NULL,
    message TEXT NOT NULL,
    detail TEXT
  );
  INSERT INTO attempts_rowid SELECT delivery_id, attempt, workspace, event_id, rule_id, started_at, duration_ms, status, outcome, retryable, message, detail FROM attempts ORDER BY delivery_id, attempt;
  DROP TABLE attempts;
  ALTER TABLE attempts_rowid RENAME TO attempts;
  CREATE UNIQUE INDEX attempts_delivery_attempt ON attempts (delivery_id, attempt);
  `,
];

/**
 * What the store last wrote for a delivery row, kept on the row object itself (rows passed to
 * `insertEvents` and `write` are the engine's, rows read back are the store's): an update then
 * sets only the columns that changed among the indexed ones, and needs no lookup of the event.
 * Set only once the write committed; a row read while a write is pending is not tagged (the
 * read may predate that write), so it is written in full.
 */
const WRITTEN = Symbol("meshwork.sqlite-written");
interface Written {
  seq: number;
  next: number | null;
  completed: number | null;
}
type TaggedRow = DeliveryRow & { [WRITTEN]?: Written };

/** Records what was written; not enumerable, so a copy (`{ ...row }`) starts untagged and is written in full. */
function tag(row: TaggedRow, seq: number, next: number | null, completed: number | null): void {
  const written = row[WRITTEN];
  if (written) {
    written.seq = seq;
    written.next = next;
    written.completed = completed;
  } else Object.defineProperty(row, WRITTEN, { value: { seq, next, completed }, writable: true, enumerable: false, configurable: true });
}

const FINISHED = "d.status IN ('failed', 'canceled')";
const STATUSES = new Set(["pending", "processing", "retrying", "completed", "failed", "canceled"]);

const EVENT_COLUMNS = "seq, workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules, completed_count, failed_count";
/**
 * A delivery's columns, read in raw mode (one array per row): better-sqlite3 builds an object
 * with this many named columns at about three times the cost. `event_seq` comes last.
 */
const DELIVERY_COLUMNS =
  "d.id, d.workspace, d.event_id, d.rule_id, d.connection, d.action, d.integration_type, d.event, d.status, d.attempt_count, d.round_start, d.next_attempt_at, d.last_error, d.last_outcome, d.idempotency_key, d.created_at, d.updated_at, d.completed_at, d.event_seq";
const EVENT_SEQ = 18;

interface RawEvent {
  seq: number;
  workspace: string;
  id: string;
  event: string;
  resource: string | null;
  resource_id: string | null;
  payload: string;
  created_by: string;
  created_at: number;
  status: EventRow["status"];
  total_rules: number;
  completed_count: number;
  failed_count: number;
}

interface RawAttempt {
  delivery_id: string;
  attempt: number;
  workspace: string;
  event_id: string;
  rule_id: string;
  started_at: number;
  duration_ms: number;
  status: number | null;
  outcome: AttemptRow["outcome"];
  retryable: number;
  message: string;
  detail: string | null;
}

function toEvent(raw: RawEvent): EventRow {
  return {
    seq: raw.seq,
    workspace: raw.workspace,
    id: raw.id,
    event: raw.event,
    resource: raw.resource,
    resource_id: raw.resource_id,
    payload: JSON.parse(raw.payload) as Record<string, unknown>,
    created_by: raw.created_by,
    created_at: raw.created_at,
    status: raw.status,
    total_rules: raw.total_rules,
    completed_count: raw.completed_count,
    failed_count: raw.failed_count,
  };
}

/** A row of `DELIVERY_COLUMNS`; `tagged` records it as written (no write in flight could have changed it). */
function toDelivery(v: unknown[], tagged: boolean): DeliveryRow {
  const row: TaggedRow = {
    id: v[0] as string,
    workspace: v[1] as string,
    event_id: v[2] as string,
    rule_id: v[3] as string,
    connection: v[4] as string,
    action: v[5] as string,
    integration_type: v[6] as string,
    event: v[7] as string,
    status: v[8] as DeliveryRow["status"],
    attempt_count: v[9] as number,
    round_start: v[10] as number,
    next_attempt_at: v[11] as number | null,
    last_error: v[12] as string | null,
    last_outcome: v[13] as DeliveryRow["last_outcome"],
    idempotency_key: v[14] as string,
    created_at: v[15] as number,
    updated_at: v[16] as number,
    completed_at: v[17] as number | null,
  };
  if (tagged) tag(row, v[EVENT_SEQ] as number, row.next_attempt_at, row.completed_at);
  return row;
}

function toAttempt(raw: RawAttempt): AttemptRow {
  const detail = raw.detail ? (JSON.parse(raw.detail) as Pick<AttemptRow, "exchanges" | "notes">) : undefined;
  return {
    delivery_id: raw.delivery_id,
    workspace: raw.workspace,
    event_id: raw.event_id,
    rule_id: raw.rule_id,
    attempt: raw.attempt,
    started_at: raw.started_at,
    duration_ms: raw.duration_ms,
    status: raw.status,
    outcome: raw.outcome,
    retryable: raw.retryable === 1,
    message: raw.message,
    exchanges: detail?.exchanges ?? [],
    notes: detail?.notes ?? [],
  };
}

/**
 * Where better-sqlite3 is, for the store's worker threads: resolved from this module, or else the
 * copy already loaded (an application bundle imports it by its absolute path).
 */
async function sqliteModulePath(): Promise<string> {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  try {
    return require.resolve("better-sqlite3");
  } catch (error) {
    const loaded = Object.keys(require.cache).find((file) => /[\\/]better-sqlite3[\\/]lib[\\/]index\.js$/.test(file));
    if (loaded) return loaded;
    throw error;
  }
}

/** A failure of SQLite as the store reports it: retryable when the database was busy, locked, full or could not be written. */
function storeError(what: string, error: unknown): MeshworkRulesError {
  if (MeshworkRulesError.isInstance(error)) return error;
  const code = (error as { code?: string }).code ?? "";
  const retryable = /BUSY|LOCKED|IOERR|FULL/.test(code);
  return new MeshworkRulesError("store_error", `SQLite ${what} failed: ${(error as Error).message}`, { retryable, cause: error });
}

/** Where the store's writes go: `createWriter`'s calls, each answered once committed. */
interface WriterLink {
  insert(values: Value[]): Promise<InsertAnswer>;
  write(deliveries: Value[], attempts: Value[]): Promise<Array<number | null>>;
  setConnectionStatus(connection: string, disabledAt: number | null, reason: string | null): Promise<void>;
  /** Lets the writing connection checkpoint the WAL itself (the checkpoint worker stopped). */
  autocheckpoint(pages: number): void;
  /** Waits for the writes sent, then lets the writer go. */
  close(): Promise<void>;
}

/** Writes on the engine's thread, on the store's own connection. */
function inlineLink(db: BetterSqlite3.Database): WriterLink {
  const writer = createWriter(db, summarizeDeliveries);
  const run = <T>(what: string, fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(storeError(what, error));
    }
  };
  return {
    insert: (values) => run("insert", () => writer.insert(values)),
    write: (deliveries, attempts) => run("write", () => writer.write(deliveries, attempts)),
    setConnectionStatus: (connection, disabledAt, reason) => run("write", () => writer.setConnectionStatus(connection, disabledAt, reason)),
    autocheckpoint: (pages) => db.pragma(`wal_autocheckpoint = ${pages}`),
    close: () => Promise.resolve(),
  };
}

/**
 * Writes in a worker thread (`runWriterThread`) with its own connection. Messages are answered in
 * the order they were posted, so the answers settle a FIFO of callers. A thread that stops (crash,
 * uncaught error) fails the calls waiting on it; the next call starts a new one. The thread keeps
 * the process alive only while calls wait on it.
 */
async function threadLink(data: WriterThreadData): Promise<WriterLink> {
  const { Worker } = await import("node:worker_threads");
  const source = writerThreadSource();
  interface Waiter {
    what: string;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  interface Thread {
    worker: Worker;
    waiting: Waiter[];
    exited: Promise<void>;
  }
  let thread: Thread | undefined;
  let ready!: Promise<void>;

  const start = (): Thread => {
    const worker = new Worker(source, { eval: true, workerData: data });
    const t: Thread = { worker, waiting: [], exited: new Promise((resolve) => worker.once("exit", () => resolve())) };
    const stop = (error: Error) => {
      if (thread === t) thread = undefined;
      const waiting = t.waiting;
      t.waiting = [];
      for (const waiter of waiting) {
        const message =
          waiter.what === "open"
            ? `SQLite open failed: the writer thread could not start (${error.message}); writer: "inline" keeps writes on this thread`
            : `SQLite ${waiter.what} failed: the writer thread stopped (${error.message}); the next write starts a new one`;
        waiter.reject(new MeshworkRulesError("store_error", message, { retryable: waiter.what !== "open", cause: error }));
      }
    };
    worker.on("message", (message: [boolean, unknown]) => {
      const waiter = t.waiting.shift();
      if (t.waiting.length === 0) worker.unref();
      if (!waiter) return;
      if (message[0]) waiter.resolve(message[1]);
      else {
        const failure = message[1] as { name: string; message: string; code: string };
        waiter.reject(storeError(waiter.what, Object.assign(new Error(failure.message), failure)));
      }
    });
    worker.on("error", stop);
    worker.on("messageerror", stop);
    worker.on("exit", (code) => stop(new Error(`exit code ${code}`)));
    ready = new Promise((resolve, reject) => t.waiting.push({ what: "open", resolve: () => resolve(), reject }));
    ready.catch(() => {});
    return t;
  };

  const post = <T>(what: string, message: unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      try {
        const t = (thread ??= start());
        t.worker.postMessage(message);
        if (t.waiting.length === 0) t.worker.ref();
        t.waiting.push({ what, resolve: resolve as (value: unknown) => void, reject });
      } catch (error) {
        reject(storeError(what, error));
      }
    });

  thread = start();
  await ready;

  return {
    insert: (values) => post("insert", ["insert", values]),
    write: (deliveries, attempts) => post("write", ["write", deliveries, attempts]),
    setConnectionStatus: (connection, disabledAt, reason) => post("write", ["status", connection, disabledAt, reason]),
    autocheckpoint(pages) {
      data.autocheckpoint = pages;
      if (thread) post("write", ["autocheckpoint", pages]).catch(() => {});
    },
    async close() {
      const t = thread;
      if (!t) return;
      // Answered after every write posted before it; the thread then closes its connection and ends.
      await post("close", ["close"]).catch(() => {});
      thread = undefined;
      // Keeps the process alive until the thread is gone.
      t.worker.ref();
      await Promise.race([t.exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
      await t.worker.terminate();
    },
  };
}

/**
 * A durable store on SQLite (better-sqlite3) in WAL mode. The schema is migrated on open
 * (`PRAGMA user_version`); writes from the engine are grouped into one transaction per flush,
 * run by a writer thread with its own connection (file databases) while reads stay on the
 * caller's thread; history queries are indexed. One engine per database file at a time; for
 * several processes use a Postgres store.
 *
 * @example
 * const engine = createEngine({ config, destinations, store: sqliteStore({ path: "meshwork.db" }) });
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  let db: BetterSqlite3.Database | undefined;
  const cache = new Map<string, BetterSqlite3.Statement>();
  let writer: WriterLink | undefined;
  let checkpointer: Worker | undefined;
  let closing: Promise<void> | undefined;
  /** `write` calls not answered yet: while there are any, rows read are not tagged and writes are sent in full. */
  let writing = 0;

  /** Moves checkpoints to a worker thread; if it cannot start, SQLite checkpoints inline as usual. */
  const startCheckpointer = async (d: BetterSqlite3.Database): Promise<Worker | undefined> => {
    try {
      const { Worker } = await import("node:worker_threads");
      const module = await sqliteModulePath();
      const worker = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: { module, path: resolve(d.name), intervalMs: Math.max(10, options.checkpointIntervalMs ?? 250) },
      });
      worker.unref();
      worker.on("error", () => {
        if (db === d) {
          d.pragma("wal_autocheckpoint = 1000");
          writer?.autocheckpoint(1000);
        }
      });
      d.pragma("wal_autocheckpoint = 0");
      return worker;
    } catch {
      return undefined;
    }
  };

  /** The writer thread for a file; inline writes for `":memory:"`, on request, or when the thread cannot start. */
  const startWriter = async (d: BetterSqlite3.Database, synchronous: WriterThreadData["synchronous"]): Promise<WriterLink> => {
    if (options.writer === "inline" || d.memory) return inlineLink(d);
    try {
      const module = await sqliteModulePath();
      return await threadLink({ module, path: resolve(d.name), synchronous, busyTimeoutMs: options.busyTimeoutMs ?? 5000, autocheckpoint: checkpointer ? 0 : 1000 });
    } catch (error) {
      // E.g. a bundle that better-sqlite3 cannot be resolved from: the writes stay on this thread.
      if (options.writer === "thread") throw storeError("open", error);
      return inlineLink(d);
    }
  };

  const stopCheckpointer = async () => {
    if (!checkpointer) return;
    const worker = checkpointer;
    checkpointer = undefined;
    worker.ref();
    await Promise.race([new Promise((resolve) => worker.once("message", resolve).once("exit", resolve).postMessage("close")), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    await worker.terminate();
  };

  const statement = (sql: string) => {
    let prepared = cache.get(sql);
    if (!prepared) cache.set(sql, (prepared = database().prepare(sql)));
    return prepared;
  };

  /**
   * Deliveries (a query selecting `DELIVERY_COLUMNS`) with their events, each event read and its
   * payload parsed once, however many of its deliveries are in the result.
   */
  const deliveriesWithEvents = (sql: string, ...params: unknown[]): DeliveryWithEvent[] => {
    const rows = statement(sql).raw(true).all(...params) as unknown[][];
    if (rows.length === 0) return [];
    const tagged = writing === 0;
    const seqs = new Set<number>();
    for (const row of rows) seqs.add(row[EVENT_SEQ] as number);
    const events = new Map<number, EventRow>();
    const read = statement(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq IN (SELECT value FROM json_each(?))`).all(JSON.stringify([...seqs])) as RawEvent[];
    for (const raw of read) events.set(raw.seq, toEvent(raw));
    return rows.map((row) => ({ delivery: toDelivery(row, tagged), event: events.get(row[EVENT_SEQ] as number)! }));
  };

  const closed = () => new MeshworkRulesError("store_closed", "the SQLite store is not open; call engine.start() first", { retryable: true });

  const database = () => {
    if (!db) throw closed();
    return db;
  };

  const link = () => {
    if (!writer) throw closed();
    return writer;
  };

  const migrate = (d: BetterSqlite3.Database) => {
    const version = d.pragma("user_version", { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new MeshworkRulesError(
        "store_version",
        `${options.path} has schema version ${version}, newer than this @meshwork/rules knows (${MIGRATIONS.length}); upgrade @meshwork/rules`,
      );
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      d.transaction(() => {
        d.exec(MIGRATIONS[v]!);
        d.pragma(`user_version = ${v + 1}`);
      })();
    }
  };

  const wrap = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw storeError(what, error);
    }
  };

  return {
    name: "sqlite",
    durable: true,

    async open() {
      if (closing) await closing;
      if (db) return;
      let Database: typeof BetterSqlite3;
      try {
        Database = ((await import("better-sqlite3")) as unknown as { default: typeof BetterSqlite3 }).default;
      } catch (error) {
        throw new MeshworkRulesError("store_unavailable", "sqliteStore needs the better-sqlite3 package (npm install better-sqlite3)", { cause: error });
      }
      const d = wrap("open", () => new Database(options.path));
      const synchronous = options.synchronous === "full" ? "FULL" : "NORMAL";
      try {
        d.pragma("journal_mode = WAL");
        d.pragma(`synchronous = ${synchronous}`);
        d.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
        d.pragma("temp_store = MEMORY");
        d.pragma("cache_size = -32000");
        wrap("migration", () => migrate(d));
        db = d;
        if (options.checkpoint !== "inline" && !d.memory) checkpointer = await startCheckpointer(d);
        // Migrations ran above, on this thread, before the writer opens its connection.
        writer = await startWriter(d, synchronous);
      } catch (error) {
        db = undefined;
        await stopCheckpointer();
        d.close();
        throw error;
      }
    },

    close() {
      if (!db) return Promise.resolve();
      closing ??= (async () => {
        const w = writer;
        writer = undefined;
        // Writes sent before close() still commit; new ones are refused (store_closed).
        await w?.close();
        await stopCheckpointer();
        try {
          db!.pragma("wal_checkpoint(TRUNCATE)");
        } catch {
          // Another reader holds the WAL; it is checkpointed next time.
        }
        db!.close();
        db = undefined;
        cache.clear();
      })().finally(() => {
        closing = undefined;
      });
      return closing;
    },

    async insertEvents(items) {
      const to = link();
      // Read now (the engine goes on with these objects): the values sent, and what to tag once committed.
      const values: Value[] = [];
      const stored: EventRow[] = new Array(items.length);
      const marks: Array<number | null> = [];
      wrap("insert", () => {
        for (let i = 0; i < items.length; i++) {
          const { event, deliveries, payloadJson } = items[i]!;
          const status = deliveries.length ? "pending" : "completed";
          values.push(event.workspace, event.id, event.event, event.resource, event.resource_id, payloadJson ?? JSON.stringify(event.payload), event.created_by, event.created_at, status, deliveries.length);
          for (const r of deliveries) {
            values.push(
              r.id,
              r.workspace,
              r.event_id,
              r.rule_id,
              r.connection,
              r.action,
              r.integration_type,
              r.event,
              r.status,
              r.attempt_count,
              r.round_start,
              r.next_attempt_at,
              r.last_error,
              r.last_outcome,
              r.idempotency_key,
              r.created_at,
              r.updated_at,
              r.completed_at,
            );
            marks.push(r.next_attempt_at, r.completed_at);
          }
          stored[i] = { ...event, status, total_rules: deliveries.length, completed_count: 0, failed_count: 0 };
        }
      });
      const answers = await to.insert(values);
      const results: InsertResult[] = new Array(items.length);
      let m = 0;
      for (let i = 0; i < items.length; i++) {
        const answer = answers[i]!;
        const deliveries = items[i]!.deliveries;
        if (typeof answer !== "number") {
          results[i] = { inserted: false, event: toEvent(answer as unknown as RawEvent) };
          m += 2 * deliveries.length;
          continue;
        }
        for (const r of deliveries) tag(r as TaggedRow, answer, marks[m++] as number | null, marks[m++] as number | null);
        const event = stored[i]!;
        event.seq = answer;
        results[i] = { inserted: true, event };
      }
      return results;
    },

    async write(batch) {
      const to = link();
      const rows = batch.deliveries;
      const attempts = batch.attempts;
      if (rows.length === 0 && attempts.length === 0) return;
      // Another write not yet committed may change these rows' indexed columns: send them in full.
      const full = writing > 0;
      const d: Value[] = [];
      // Per row: the event seq already known (null: the writer answers it), next_attempt_at, completed_at.
      const marks: Array<number | null> = [];
      const a: Value[] = [];
      try {
        for (const row of rows) {
          const r = row as TaggedRow;
          const last = full ? undefined : r[WRITTEN];
          const shape = !last || last.completed !== r.completed_at ? SHAPE_ALL : last.next !== r.next_attempt_at ? SHAPE_NEXT : SHAPE_QUIET;
          const seq = last ? last.seq : null;
          d.push(shape, r.id, r.status, r.attempt_count, r.round_start, r.last_error, r.last_outcome, r.updated_at, r.next_attempt_at, r.completed_at, seq);
          marks.push(seq, r.next_attempt_at, r.completed_at);
        }
        for (const x of attempts) {
          const detail = x.exchanges.length || x.notes.length ? JSON.stringify({ exchanges: x.exchanges, notes: x.notes }) : null;
          a.push(x.delivery_id, x.attempt, x.workspace, x.event_id, x.rule_id, x.started_at, x.duration_ms, x.status, x.outcome, x.retryable ? 1 : 0, x.message, detail);
        }
      } catch (error) {
        throw storeError("write", error);
      }
      writing++;
      let seqs: Array<number | null>;
      try {
        seqs = await to.write(d, a);
      } finally {
        writing--;
      }
      // Only once committed: a rolled-back write is sent again in full.
      let k = 0;
      for (let i = 0, m = 0; i < rows.length; i++, m += 3) {
        const seq = marks[m] ?? seqs[k++];
        if (seq !== null && seq !== undefined) tag(rows[i] as TaggedRow, seq, marks[m + 1] as number | null, marks[m + 2] as number | null);
      }
    },

    async openDeliveries() {
      return deliveriesWithEvents(`SELECT ${DELIVERY_COLUMNS} FROM deliveries d WHERE d.completed_at IS NULL ORDER BY d.event_seq, d.id`);
    },

    async openDeliveryPage(query) {
      const after = query.after;
      const through = query.throughSeq ?? Number.MAX_SAFE_INTEGER;
      // A range of deliveries_open, in its order: no sort, however long the history or the backlog.
      const select = `SELECT ${DELIVERY_COLUMNS} FROM deliveries d WHERE d.completed_at IS NULL AND d.event_seq <= ?`;
      return after?.id === undefined
        ? deliveriesWithEvents(`${select} AND d.event_seq > ? ORDER BY d.event_seq, d.id LIMIT ?`, through, after?.seq ?? -1, query.limit)
        : deliveriesWithEvents(`${select} AND (d.event_seq, d.id) > (?, ?) ORDER BY d.event_seq, d.id LIMIT ?`, through, after.seq, after.id, query.limit);
    },

    async openDeliveryCount() {
      const open = statement(`SELECT count(*) FROM deliveries WHERE completed_at IS NULL`).pluck().get() as number;
      const lastSeq = (statement(`SELECT max(seq) FROM events`).pluck().get() as number | null) ?? 0;
      return { open, lastSeq };
    },

    async dueDeliveries(time, limit) {
      return deliveriesWithEvents(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d
         WHERE d.completed_at IS NULL AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?) ORDER BY d.next_attempt_at LIMIT ?`,
        time,
        limit,
      );
    },

    async getEvents(id, workspace) {
      const rows =
        workspace === undefined
          ? (statement(`SELECT ${EVENT_COLUMNS} FROM events WHERE id = ?`).all(id) as RawEvent[])
          : (statement(`SELECT ${EVENT_COLUMNS} FROM events WHERE workspace = ? AND id = ?`).all(workspace, id) as RawEvent[]);
      return rows.map(toEvent);
    },

    async listEvents(query: StoreEventQuery) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (query.workspaces) {
        where.push(`workspace IN (${query.workspaces.map(() => "?").join(", ")})`);
        params.push(...query.workspaces);
      }
      if (query.statuses) {
        where.push(`status IN (${query.statuses.map(() => "?").join(", ")})`);
        params.push(...query.statuses);
      }
      for (const key of ["event", "resource", "resource_id"] as const) {
        if (query[key] !== undefined) {
          where.push(`${key} = ?`);
          params.push(query[key]);
        }
      }
      if (query.since !== undefined) {
        where.push("created_at >= ?");
        params.push(query.since);
      }
      if (query.until !== undefined) {
        where.push("created_at < ?");
        params.push(query.until);
      }
      if (query.beforeSeq !== undefined) {
        where.push("seq < ?");
        params.push(query.beforeSeq);
      }
      const sql = `SELECT ${EVENT_COLUMNS} FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`;
      return (statement(sql).all(...params, query.limit) as RawEvent[]).map(toEvent);
    },

    async eventDeliveries(workspace, eventId) {
      const rows = statement(`SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.workspace = ? AND e.id = ? ORDER BY d.id`)
        .raw(true)
        .all(workspace, eventId) as unknown[][];
      const tagged = writing === 0;
      return rows.map((row) => toDelivery(row, tagged));
    },

    async getDelivery(workspace, eventId, ruleId) {
      return deliveriesWithEvents(
        `SELECT ${DELIVERY_COLUMNS} FROM events e JOIN deliveries d ON d.event_seq = e.seq WHERE e.workspace = ? AND e.id = ? AND d.rule_id = ?`,
        workspace,
        eventId,
        ruleId,
      )[0];
    },

    async listAttempts(deliveryId) {
      const rows = statement(`SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempt`).all(deliveryId) as RawAttempt[];
      return rows.map(toAttempt);
    },

    async findDeliveries(query: StoreDeliveryQuery) {
      // Statuses are inlined (checked against the known ones) so SQLite can use the partial index.
      const statuses = query.statuses.filter((status) => STATUSES.has(status));
      const where = [`d.workspace = ?`, `d.status IN (${statuses.map((status) => `'${status}'`).join(", ") || "NULL"})`];
      // The partial index's own condition, spelled as in its definition, lets the planner use it.
      if (statuses.length && statuses.every((status) => status === "failed" || status === "canceled")) where.push(FINISHED);
      const params: unknown[] = [query.workspace];
      if (query.connection !== undefined) {
        where.push("d.connection = ?");
        params.push(query.connection);
      }
      if (query.rule !== undefined) {
        where.push("d.rule_id = ?");
        params.push(query.rule);
      }
      if (query.event !== undefined) {
        where.push("d.event = ?");
        params.push(query.event);
      }
      if (query.outcomes) {
        where.push(`d.last_outcome IN (${query.outcomes.map(() => "?").join(", ")})`);
        params.push(...query.outcomes);
      }
      if (query.since !== undefined) {
        where.push("e.created_at >= ?");
        params.push(query.since);
      }
      if (query.until !== undefined) {
        where.push("e.created_at < ?");
        params.push(query.until);
      }
      return deliveriesWithEvents(
        `SELECT ${DELIVERY_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE ${where.join(" AND ")} ORDER BY e.seq, d.id`,
        ...params,
      );
    },

    async connectionStatuses() {
      return statement(`SELECT connection, disabled_at, reason FROM connection_status`).all() as ConnectionStatusRow[];
    },

    async setConnectionStatus(connection, status) {
      await link().setConnectionStatus(connection, status ? status.disabled_at : null, status ? status.reason : null);
    },
  };
}

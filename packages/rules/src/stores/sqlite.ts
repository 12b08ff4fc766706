import { resolve } from "node:path";
import type { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";
import { MeshworkRulesError } from "../errors.js";
import type {
  AttemptRow,
  ConnectionStatusRow,
  DeliveryRow,
  DeliveryWithEvent,
  EventRow,
  InsertResult,
  NewEvent,
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
];

/**
 * What the store last wrote for a delivery row, kept on the row object itself (rows passed to
 * `insertEvents` and `write` are the engine's, rows read back are the store's): an update then
 * sets only the columns that changed among the indexed ones, and needs no lookup of the event.
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

/** Statuses that end a delivery, or (re)open one: the event's status may change with them. */
const REFRESHES = new Set(["completed", "failed", "canceled", "pending"]);

const OPEN = "('pending', 'processing', 'retrying')";
const FINISHED = "d.status IN ('failed', 'canceled')";
const STATUSES = new Set(["pending", "processing", "retrying", "completed", "failed", "canceled"]);

const EVENT_COLUMNS = "seq, workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules, completed_count, failed_count";
const JOINED_EVENT_COLUMNS =
  "e.seq AS e_seq, e.id AS e_id, e.resource AS e_resource, e.resource_id AS e_resource_id, e.payload AS e_payload, e.created_by AS e_created_by, e.created_at AS e_created_at, e.status AS e_status, e.total_rules AS e_total_rules, e.completed_count AS e_completed_count, e.failed_count AS e_failed_count";

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

type RawDelivery = DeliveryRow & { event_seq: number };

type RawJoined = RawDelivery & {
  e_seq: number;
  e_id: string;
  e_resource: string | null;
  e_resource_id: string | null;
  e_payload: string;
  e_created_by: string;
  e_created_at: number;
  e_status: EventRow["status"];
  e_total_rules: number;
  e_completed_count: number;
  e_failed_count: number;
};

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

function toDelivery(raw: RawDelivery): DeliveryRow {
  const row: TaggedRow = {
    id: raw.id,
    workspace: raw.workspace,
    event_id: raw.event_id,
    rule_id: raw.rule_id,
    connection: raw.connection,
    action: raw.action,
    integration_type: raw.integration_type,
    event: raw.event,
    status: raw.status,
    attempt_count: raw.attempt_count,
    round_start: raw.round_start,
    next_attempt_at: raw.next_attempt_at,
    last_error: raw.last_error,
    last_outcome: raw.last_outcome,
    idempotency_key: raw.idempotency_key,
    created_at: raw.created_at,
    updated_at: raw.updated_at,
    completed_at: raw.completed_at,
  };
  tag(row, raw.event_seq, raw.next_attempt_at, raw.completed_at);
  return row;
}

/** Joined rows share one parsed event per event (payloads are parsed once). */
function toJoined(rows: RawJoined[]): DeliveryWithEvent[] {
  const events = new Map<number, EventRow>();
  return rows.map((raw) => {
    let event = events.get(raw.e_seq);
    if (!event) {
      event = {
        seq: raw.e_seq,
        workspace: raw.workspace,
        id: raw.e_id,
        event: raw.event,
        resource: raw.e_resource,
        resource_id: raw.e_resource_id,
        payload: JSON.parse(raw.e_payload) as Record<string, unknown>,
        created_by: raw.e_created_by,
        created_at: raw.e_created_at,
        status: raw.e_status,
        total_rules: raw.e_total_rules,
        completed_count: raw.e_completed_count,
        failed_count: raw.e_failed_count,
      };
      events.set(raw.e_seq, event);
    }
    return { delivery: toDelivery(raw), event };
  });
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
 * A durable store on SQLite (better-sqlite3) in WAL mode. The schema is migrated on open
 * (`PRAGMA user_version`); writes from the engine are grouped into one transaction per flush;
 * history queries are indexed. One engine per database file at a time; for several processes
 * use a Postgres store.
 *
 * @example
 * const engine = createEngine({ config, destinations, store: sqliteStore({ path: "meshwork.db" }) });
 */
export function sqliteStore(options: SqliteStoreOptions): Store {
  let db: BetterSqlite3.Database | undefined;
  const cache = new Map<string, BetterSqlite3.Statement>();
  let s: ReturnType<typeof prepareAll> | undefined;
  let checkpointer: Worker | undefined;

  /** Moves checkpoints to a worker thread; if it cannot start, SQLite checkpoints inline as usual. */
  const startCheckpointer = async (d: BetterSqlite3.Database): Promise<Worker | undefined> => {
    try {
      const { Worker } = await import("node:worker_threads");
      const { createRequire } = await import("node:module");
      const module = createRequire(import.meta.url).resolve("better-sqlite3");
      const worker = new Worker(CHECKPOINTER, {
        eval: true,
        workerData: { module, path: resolve(d.name), intervalMs: Math.max(10, options.checkpointIntervalMs ?? 250) },
      });
      worker.unref();
      worker.on("error", () => {
        if (db === d) d.pragma("wal_autocheckpoint = 1000");
      });
      d.pragma("wal_autocheckpoint = 0");
      return worker;
    } catch {
      return undefined;
    }
  };

  const statement = (sql: string) => {
    let prepared = cache.get(sql);
    if (!prepared) cache.set(sql, (prepared = database().prepare(sql)));
    return prepared;
  };

  const database = () => {
    if (!db) throw new MeshworkRulesError("store_closed", "the SQLite store is not open; call engine.start() first", { retryable: true });
    return db;
  };

  function prepareAll(d: BetterSqlite3.Database) {
    const insertEvent = d.prepare(
      `INSERT INTO events (workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (workspace, id) DO NOTHING`,
    );
    const findEvent = d.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE workspace = ? AND id = ?`);
    const insertDelivery = d.prepare(
      `INSERT INTO deliveries (id, event_seq, workspace, event_id, rule_id, connection, action, integration_type, event, status,
         attempt_count, round_start, next_attempt_at, last_error, last_outcome, idempotency_key, created_at, updated_at, completed_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    // Three shapes of update, so SQLite maintains the open-deliveries index only when needed.
    const updateBase = "UPDATE deliveries SET status = ?, attempt_count = ?, round_start = ?, last_error = ?, last_outcome = ?, updated_at = ?";
    const updateQuiet = d.prepare(`${updateBase} WHERE id = ?`);
    const updateNext = d.prepare(`${updateBase}, next_attempt_at = ? WHERE id = ?`);
    const updateAll = d.prepare(`${updateBase}, next_attempt_at = ?, completed_at = ? WHERE id = ? RETURNING event_seq`);
    updateAll.pluck(true);
    const insertAttempt = d.prepare(
      `INSERT OR REPLACE INTO attempts (delivery_id, attempt, workspace, event_id, rule_id, started_at, duration_ms, status, outcome, retryable, message, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const refreshEvent = d.prepare(
      `UPDATE events SET (status, completed_count, failed_count) = (
         SELECT CASE
             WHEN sum(status IN ${OPEN}) > 0 THEN
               CASE WHEN sum(status IN ('processing', 'retrying', 'completed', 'failed', 'canceled') OR attempt_count > 0) > 0
                 THEN 'processing' ELSE 'pending' END
             WHEN sum(status = 'failed') > 0 THEN 'failed'
             WHEN sum(status = 'canceled') > 0 AND sum(status = 'completed') = 0 THEN 'canceled'
             ELSE 'completed' END,
           sum(status = 'completed'), sum(status = 'failed')
         FROM deliveries WHERE event_seq = ?)
       WHERE seq = ?`,
    );
    const startEvent = d.prepare(`UPDATE events SET status = 'processing' WHERE seq = ? AND status = 'pending'`);
    const insertMany = d.transaction((items: NewEvent[], tagged: Array<[TaggedRow, Written]>) => {
      const results: InsertResult[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const { event, deliveries } = items[i]!;
        const status = deliveries.length ? "pending" : "completed";
        const info = insertEvent.run(
          event.workspace,
          event.id,
          event.event,
          event.resource,
          event.resource_id,
          JSON.stringify(event.payload),
          event.created_by,
          event.created_at,
          status,
          deliveries.length,
        );
        if (info.changes === 0) {
          results[i] = { inserted: false, event: toEvent(findEvent.get(event.workspace, event.id) as RawEvent) };
          continue;
        }
        const seq = Number(info.lastInsertRowid);
        for (const r of deliveries) {
          insertDelivery.run(
            r.id,
            seq,
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
          tagged.push([r as TaggedRow, { seq, next: r.next_attempt_at, completed: r.completed_at }]);
        }
        results[i] = { inserted: true, event: { ...event, seq, status, total_rules: deliveries.length, completed_count: 0, failed_count: 0 } };
      }
      return results;
    });
    const writeMany = d.transaction((deliveries: DeliveryRow[], attempts: AttemptRow[], tagged: Array<[TaggedRow, Written]>) => {
      const touched = new Set<number>();
      const started = new Set<number>();
      for (const row of deliveries) {
        const r = row as TaggedRow;
        const last = r[WRITTEN];
        let seq: number | undefined;
        if (!last || last.completed !== r.completed_at) {
          seq = updateAll.get(r.status, r.attempt_count, r.round_start, r.last_error, r.last_outcome, r.updated_at, r.next_attempt_at, r.completed_at, r.id) as number | undefined;
          if (seq === undefined) continue;
        } else {
          seq = last.seq;
          if (last.next !== r.next_attempt_at) updateNext.run(r.status, r.attempt_count, r.round_start, r.last_error, r.last_outcome, r.updated_at, r.next_attempt_at, r.id);
          else updateQuiet.run(r.status, r.attempt_count, r.round_start, r.last_error, r.last_outcome, r.updated_at, r.id);
        }
        tagged.push([r, { seq, next: r.next_attempt_at, completed: r.completed_at }]);
        // Only a change that can move the event's status needs the event refreshed: an end or a
        // reopening (recounted), or the first attempt of a round (a pending event starts).
        if (REFRESHES.has(r.status)) touched.add(seq);
        else if (r.attempt_count === r.round_start + 1) started.add(seq);
      }
      for (const a of attempts) {
        const detail = a.exchanges.length || a.notes.length ? JSON.stringify({ exchanges: a.exchanges, notes: a.notes }) : null;
        insertAttempt.run(
          a.delivery_id,
          a.attempt,
          a.workspace,
          a.event_id,
          a.rule_id,
          a.started_at,
          a.duration_ms,
          a.status,
          a.outcome,
          a.retryable ? 1 : 0,
          a.message,
          detail,
        );
      }
      for (const seq of touched) refreshEvent.run(seq, seq);
      for (const seq of started) if (!touched.has(seq)) startEvent.run(seq);
    });
    return { insertMany, writeMany };
  }

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
      if (MeshworkRulesError.isInstance(error)) throw error;
      const code = (error as { code?: string }).code ?? "";
      const retryable = /BUSY|LOCKED|IOERR|FULL/.test(code);
      throw new MeshworkRulesError("store_error", `SQLite ${what} failed: ${(error as Error).message}`, { retryable, cause: error });
    }
  };

  return {
    name: "sqlite",
    durable: true,

    async open() {
      if (db) return;
      let Database: typeof BetterSqlite3;
      try {
        Database = ((await import("better-sqlite3")) as unknown as { default: typeof BetterSqlite3 }).default;
      } catch (error) {
        throw new MeshworkRulesError("store_unavailable", "sqliteStore needs the better-sqlite3 package (npm install better-sqlite3)", { cause: error });
      }
      const d = wrap("open", () => new Database(options.path));
      try {
        d.pragma("journal_mode = WAL");
        d.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`);
        d.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
        d.pragma("temp_store = MEMORY");
        d.pragma("cache_size = -32000");
        wrap("migration", () => migrate(d));
        s = prepareAll(d);
        db = d;
        if (options.checkpoint !== "inline" && !d.memory) checkpointer = await startCheckpointer(d);
      } catch (error) {
        d.close();
        throw error;
      }
    },

    async close() {
      if (!db) return;
      if (checkpointer) {
        const worker = checkpointer;
        checkpointer = undefined;
        await Promise.race([new Promise((resolve) => worker.once("message", resolve).once("exit", resolve).postMessage("close")), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
        await worker.terminate();
      }
      try {
        db.pragma("wal_checkpoint(TRUNCATE)");
      } catch {
        // Another reader holds the WAL; it is checkpointed next time.
      }
      db.close();
      db = undefined;
      s = undefined;
      cache.clear();
    },

    async insertEvents(items) {
      database();
      const tagged: Array<[TaggedRow, Written]> = [];
      const results = wrap("insert", () => s!.insertMany(items, tagged));
      for (const [row, written] of tagged) tag(row, written.seq, written.next, written.completed);
      return results;
    },

    async write(batch) {
      database();
      if (batch.deliveries.length === 0 && batch.attempts.length === 0) return;
      const tagged: Array<[TaggedRow, Written]> = [];
      wrap("write", () => s!.writeMany(batch.deliveries, batch.attempts, tagged));
      // Only once committed: a rolled-back write is sent again in full.
      for (const [row, written] of tagged) tag(row, written.seq, written.next, written.completed);
    },

    async openDeliveries() {
      const rows = statement(
        `SELECT d.*, ${JOINED_EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.completed_at IS NULL ORDER BY e.seq, d.id`,
      ).all() as RawJoined[];
      return toJoined(rows);
    },

    async openDeliveryPage(query) {
      const after = query.after;
      const through = query.throughSeq ?? Number.MAX_SAFE_INTEGER;
      // A range of deliveries_open, in its order: no sort, however long the history or the backlog.
      const select = `SELECT d.*, ${JOINED_EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.completed_at IS NULL AND d.event_seq <= ?`;
      const rows =
        after?.id === undefined
          ? statement(`${select} AND d.event_seq > ? ORDER BY d.event_seq, d.id LIMIT ?`).all(through, after?.seq ?? -1, query.limit)
          : statement(`${select} AND (d.event_seq, d.id) > (?, ?) ORDER BY d.event_seq, d.id LIMIT ?`).all(through, after.seq, after.id, query.limit);
      return toJoined(rows as RawJoined[]);
    },

    async openDeliveryCount() {
      const open = statement(`SELECT count(*) FROM deliveries WHERE completed_at IS NULL`).pluck().get() as number;
      const lastSeq = (statement(`SELECT max(seq) FROM events`).pluck().get() as number | null) ?? 0;
      return { open, lastSeq };
    },

    async dueDeliveries(time, limit) {
      const rows = statement(
        `SELECT d.*, ${JOINED_EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq
         WHERE d.completed_at IS NULL AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ?) ORDER BY d.next_attempt_at LIMIT ?`,
      ).all(time, limit) as RawJoined[];
      return toJoined(rows);
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
      const rows = statement(
        `SELECT d.* FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.workspace = ? AND e.id = ? ORDER BY d.id`,
      ).all(workspace, eventId) as RawDelivery[];
      return rows.map(toDelivery);
    },

    async getDelivery(workspace, eventId, ruleId) {
      const rows = statement(
        `SELECT d.*, ${JOINED_EVENT_COLUMNS} FROM events e JOIN deliveries d ON d.event_seq = e.seq
         WHERE e.workspace = ? AND e.id = ? AND d.rule_id = ?`,
      ).all(workspace, eventId, ruleId) as RawJoined[];
      return toJoined(rows)[0];
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
      const rows = statement(
        `SELECT d.*, ${JOINED_EVENT_COLUMNS} FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE ${where.join(" AND ")} ORDER BY e.seq, d.id`,
      ).all(...params) as RawJoined[];
      return toJoined(rows);
    },

    async connectionStatuses() {
      return statement(`SELECT connection, disabled_at, reason FROM connection_status`).all() as ConnectionStatusRow[];
    },

    async setConnectionStatus(connection, status) {
      if (status) {
        statement(`INSERT OR REPLACE INTO connection_status (connection, disabled_at, reason) VALUES (?, ?, ?)`).run(connection, status.disabled_at, status.reason);
      } else {
        statement(`DELETE FROM connection_status WHERE connection = ?`).run(connection);
      }
    },
  };
}

import type { RateLimit } from "@meshwork/destination-kit";
import {
  MeshworkRulesError,
  type AttemptRow,
  type ClaimRequest,
  type ClaimResult,
  type ConnectionStatusRow,
  type DeliveryQueue,
  type DeliveryRow,
  type DeliveryStatus,
  type DeliveryWithEvent,
  type EventRow,
  type InsertOptions,
  type InsertResult,
  type NewEvent,
  type RenewResult,
  type SharedBreakerPolicy,
  type SharedBreakerState,
  type SharedLimits,
  type Store,
  type StoreDeliveryQuery,
  type StoreEventQuery,
  type WriteBatch,
  type WriteResult,
} from "@meshwork/rules";
import pg from "pg";
import { migrate } from "./migrate.js";
import { NOW_MS, OPEN_SQL, quoteSchema } from "./schema.js";
import { num, numOrNull, storeError } from "./sql.js";
import type { PostgresStoreOptions } from "./types.js";

type Queryable = Pick<pg.ClientBase, "query">;

const EVENT_COLUMNS = "e.seq, e.workspace, e.id, e.event, e.resource, e.resource_id, e.payload, e.created_by, e.created_at, e.status, e.total_rules, e.completed_count, e.failed_count";
const DELIVERY_COLUMNS =
  "d.id, d.workspace, d.event_id, d.rule_id, d.connection, d.action, d.integration_type, d.event, d.status, d.attempt_count, d.round_start, d.next_attempt_at, d.last_error, d.last_outcome, d.idempotency_key, d.created_at, d.updated_at, d.completed_at";
const JOINED_EVENT_COLUMNS =
  "e.seq AS e_seq, e.resource AS e_resource, e.resource_id AS e_resource_id, e.payload AS e_payload, e.created_by AS e_created_by, e.created_at AS e_created_at, e.status AS e_status, e.total_rules AS e_total_rules, e.completed_count AS e_completed_count, e.failed_count AS e_failed_count";

type Raw = Record<string, any>;

function toEvent(r: Raw): EventRow {
  return {
    seq: num(r.seq),
    workspace: r.workspace,
    id: r.id,
    event: r.event,
    resource: r.resource,
    resource_id: r.resource_id,
    payload: r.payload,
    created_by: r.created_by,
    created_at: num(r.created_at),
    status: r.status,
    total_rules: r.total_rules,
    completed_count: r.completed_count,
    failed_count: r.failed_count,
  };
}

function toDelivery(r: Raw): DeliveryRow {
  return {
    id: r.id,
    workspace: r.workspace,
    event_id: r.event_id,
    rule_id: r.rule_id,
    connection: r.connection,
    action: r.action,
    integration_type: r.integration_type,
    event: r.event,
    status: r.status,
    attempt_count: r.attempt_count,
    round_start: r.round_start,
    next_attempt_at: numOrNull(r.next_attempt_at),
    last_error: r.last_error,
    last_outcome: r.last_outcome,
    idempotency_key: r.idempotency_key,
    created_at: num(r.created_at),
    updated_at: num(r.updated_at),
    completed_at: numOrNull(r.completed_at),
  };
}

/** Joined rows of one event share one event object (the payload is parsed once). */
function toJoined(rows: Raw[]): DeliveryWithEvent[] {
  const events = new Map<string, EventRow>();
  return rows.map((r) => {
    const key = String(r.e_seq);
    let event = events.get(key);
    if (!event) {
      event = {
        seq: num(r.e_seq),
        workspace: r.workspace,
        id: r.event_id,
        event: r.event,
        resource: r.e_resource,
        resource_id: r.e_resource_id,
        payload: r.e_payload,
        created_by: r.e_created_by,
        created_at: num(r.e_created_at),
        status: r.e_status,
        total_rules: r.e_total_rules,
        completed_count: r.e_completed_count,
        failed_count: r.e_failed_count,
      };
      events.set(key, event);
    }
    return { delivery: toDelivery(r), event };
  });
}

function toAttempt(r: Raw): AttemptRow {
  const detail = r.detail as Pick<AttemptRow, "exchanges" | "notes"> | null;
  return {
    delivery_id: r.delivery_id,
    workspace: r.workspace,
    event_id: r.event_id,
    rule_id: r.rule_id,
    attempt: r.attempt,
    started_at: num(r.started_at),
    duration_ms: r.duration_ms,
    status: r.status,
    outcome: r.outcome,
    retryable: r.retryable,
    message: r.message,
    exchanges: detail?.exchanges ?? [],
    notes: detail?.notes ?? [],
  };
}

const isOpen = (status: DeliveryStatus) => status === "pending" || status === "processing" || status === "retrying";

/** The Postgres store, with its queue and shared limits; see `postgresStore`. */
export interface PostgresStore extends Store {
  readonly queue: DeliveryQueue & { readonly limits: SharedLimits };
  /** The schema holding the tables. */
  readonly schema: string;
  /** The pool the store uses (yours, or the one it made). */
  readonly pool: pg.Pool;
}

/**
 * A durable store on Postgres that is also a shared delivery queue: every engine on the same
 * database (servers, workers, app instances) claims due deliveries with `FOR UPDATE SKIP LOCKED`
 * under a renewed lease, so any number of processes share the work and exactly one holds a
 * delivery at a time. Rate limits and circuit breakers are kept in the database, so they hold
 * across processes. `engine.ingest(events, { publishableKey, tx })` writes inside your own
 * transaction (outbox). The schema is migrated on `open()` (see `migrate`).
 *
 * @example
 * import { createEngine } from "@meshwork/rules";
 * import { postgresStore } from "@meshwork/postgres";
 *
 * const engine = createEngine({
 *   config,
 *   destinations: [hubspot(), slack()],
 *   store: postgresStore({ connectionString: process.env.DATABASE_URL }),
 * });
 * await engine.start(); // migrates, then claims due deliveries alongside every other instance
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  if (!options.pool && !options.connectionString) {
    throw new MeshworkRulesError("invalid_request", "postgresStore needs { connectionString } or { pool }");
  }
  const schemaName = options.schema ?? "meshwork";
  const s = quoteSchema(schemaName);
  const channel = `meshwork:${schemaName}`;
  const notify = options.notify !== false;
  const tokenBatch = Math.max(1, Math.floor(options.tokenBatch ?? 32));
  let pool: pg.Pool | undefined = options.pool;
  let ownPool = false;
  let opened = false;

  const db = (): pg.Pool => {
    if (!pool || !opened) throw new MeshworkRulesError("store_closed", "the Postgres store is not open; call engine.start() first", { retryable: true });
    return pool;
  };

  const q = async <R extends Raw = Raw>(what: string, text: string, values?: unknown[], on: Queryable = db()): Promise<R[]> => {
    try {
      return (await on.query<R>(text, values)).rows;
    } catch (error) {
      throw storeError(what, error);
    }
  };

  // ─── LISTEN / NOTIFY ───────────────────────────────────────────────────────────────────────

  const listeners = new Set<() => void>();
  let listenClient: pg.PoolClient | undefined;
  let listenRetry: ReturnType<typeof setTimeout> | undefined;
  let listening = false;

  const fire = () => {
    for (const listener of listeners) listener();
  };

  const startListening = async (): Promise<void> => {
    if (!notify || listenClient || !opened || listeners.size === 0) return;
    listening = true;
    let client: pg.PoolClient | undefined;
    try {
      client = await db().connect();
      client.on("notification", fire);
      client.on("error", () => dropListener(client!));
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      if (!listening) {
        client.release();
        return;
      }
      listenClient = client;
      // Anything stored while no one listened is found by this wake-up.
      fire();
    } catch {
      if (client) client.release(true);
      retryListen();
    }
  };

  const dropListener = (client: pg.PoolClient) => {
    if (listenClient !== client) return;
    listenClient = undefined;
    client.release(true);
    retryListen();
  };

  const retryListen = () => {
    if (!listening || listenRetry) return;
    listenRetry = setTimeout(() => {
      listenRetry = undefined;
      void startListening();
    }, 1000);
    listenRetry.unref?.();
  };

  const stopListening = async () => {
    listening = false;
    if (listenRetry) clearTimeout(listenRetry);
    listenRetry = undefined;
    const client = listenClient;
    listenClient = undefined;
    if (client) {
      await client.query(`UNLISTEN *`).catch(() => {});
      client.release();
    }
  };

  // ─── the queue ────────────────────────────────────────────────────────────────────────────

  const refresh = async (seqs: Iterable<number>, on?: Queryable) => {
    const list = [...new Set(seqs)];
    if (list.length) await q("event refresh", `SELECT ${s}.refresh_events($1::int8[])`, [list], on);
  };

  const wake = async () => {
    if (notify) await q("notify", `SELECT pg_notify($1, '')`, [channel]);
  };

  const limits: SharedLimits = {
    async take(bucket: string, limit: RateLimit, count: number) {
      const burst = Math.max(1, Math.floor(limit.requests));
      const rate = burst / Math.max(1, limit.perMs);
      // Never hold more than ~50 ms of the rate at once, so tokens are spent as soon as they are taken.
      const want = Math.max(1, Math.min(count, tokenBatch, Math.floor(rate * 50)));
      const [row] = await q("rate limit", `SELECT granted, wait_ms FROM ${s}.take_tokens($1, $2, $3, $4)`, [bucket, want, rate, burst]);
      return { granted: Number(row?.granted ?? 0), waitMs: Math.max(1, Math.ceil(Number(row?.wait_ms ?? 1))) };
    },
    async pause(bucket: string, ms: number) {
      await q(
        "rate limit pause",
        `INSERT INTO ${s}.rate_buckets AS b (bucket, tokens, updated_at, paused_until)
         VALUES ($1, 0, extract(epoch from clock_timestamp()) * 1000, extract(epoch from clock_timestamp()) * 1000 + $2)
         ON CONFLICT (bucket) DO UPDATE SET paused_until = greatest(b.paused_until, EXCLUDED.paused_until)`,
        [bucket, Math.max(0, ms)],
      );
    },
    async record(connection: string, failure: boolean, policy: SharedBreakerPolicy, now: number): Promise<SharedBreakerState> {
      const [row] = await q("breaker", `SELECT state, failures, probe_at FROM ${s}.breaker_record($1, $2, $3, $4, $5, $6)`, [
        connection,
        failure,
        policy.failureThreshold,
        policy.cooldownMs,
        policy.maxCooldownMs,
        now,
      ]);
      return { connection, state: row!.state, failures: row!.failures, probeAt: num(row!.probe_at) };
    },
    async probe(connection: string, worker: string, now: number, leaseMs: number) {
      const rows = await q(
        "breaker probe",
        `UPDATE ${s}.breakers SET state = 'half_open', probe_by = $2, probe_until = $3::int8 + $4::int8, updated_at = $3
         WHERE connection = $1 AND ((state = 'open' AND probe_at <= $3) OR (state = 'half_open' AND probe_until <= $3))
         RETURNING 1`,
        [connection, worker, now, leaseMs],
      );
      return rows.length > 0;
    },
    async breakers() {
      const rows = await q(
        "breaker states",
        `SELECT connection, state, failures, CASE WHEN state = 'half_open' THEN probe_until ELSE probe_at END AS probe_at
         FROM ${s}.breakers WHERE state <> 'closed' OR failures > 0`,
      );
      return rows.map((r) => ({ connection: r.connection, state: r.state, failures: r.failures, probeAt: num(r.probe_at) }));
    },
  };

  const queue: DeliveryQueue & { readonly limits: SharedLimits } = {
    limits,

    async claim(request: ClaimRequest): Promise<ClaimResult> {
      const connections: string[] = [];
      const caps: number[] = [];
      for (const [connection, cap] of request.capacity) {
        if (cap > 0) {
          connections.push(connection);
          caps.push(cap);
        }
      }
      const limit = Math.max(0, Math.floor(request.limit));
      if (limit === 0 || connections.length === 0) return { deliveries: [], nextAt: null };
      const rows = await q(
        "claim",
        `SELECT c.previous_status, (c.claimed_delivery).*, (c.claimed_event).seq AS e_seq, (c.claimed_event).resource AS e_resource,
           (c.claimed_event).resource_id AS e_resource_id, (c.claimed_event).payload AS e_payload, (c.claimed_event).created_by AS e_created_by,
           (c.claimed_event).created_at AS e_created_at, (c.claimed_event).status AS e_status, (c.claimed_event).total_rules AS e_total_rules,
           (c.claimed_event).completed_count AS e_completed_count, (c.claimed_event).failed_count AS e_failed_count
         FROM ${s}.claim($1, $2::text[], $3::int4[], $4, $5) c`,
        [request.worker, connections, caps, limit, Math.max(1, Math.floor(request.leaseMs))],
      );
      const live = rows.filter((r) => r.previous_status !== "canceled");
      const deliveries = toJoined(live).map((d, i) => ({ ...d, interrupted: live[i]!.previous_status === "processing" }));
      let nextAt: number | null = null;
      if (rows.length < limit) {
        const [next] = await q("claim", `SELECT min(run_at) AS at FROM ${s}.deliveries WHERE run_at IS NOT NULL`);
        nextAt = numOrNull(next?.at);
      }
      return { deliveries, nextAt };
    },

    async renew(worker: string, ids: readonly string[], leaseMs: number): Promise<RenewResult> {
      if (ids.length === 0) return { held: [], canceled: [] };
      const rows = await q("lease renewal", `SELECT id, cancel_requested FROM ${s}.renew($1, $2::text[], $3)`, [worker, ids, Math.max(1, Math.floor(leaseMs))]);
      return { held: rows.map((r) => r.id as string), canceled: rows.filter((r) => r.cancel_requested).map((r) => r.id as string) };
    },

    async release(worker: string, ids: readonly string[]) {
      if (ids.length === 0) return;
      const [row] = await q("lease release", `SELECT ${s}.release($1, $2::text[]) AS n`, [worker, ids]);
      if (Number(row?.n ?? 0) > 0) await wake();
    },

    async requeue(ids: readonly string[], from: readonly DeliveryStatus[], now: number): Promise<DeliveryRow[]> {
      if (ids.length === 0) return [];
      const rows = await q(
        "requeue",
        `UPDATE ${s}.deliveries d SET status = 'pending', round_start = attempt_count, next_attempt_at = NULL, completed_at = NULL,
           updated_at = $3, run_at = $3, locked_by = NULL, locked_until = NULL, cancel_requested = false
         WHERE id = ANY($1::text[]) AND status = ANY($2::text[]) AND (locked_by IS NULL OR locked_until <= ${NOW_MS})
         RETURNING d.event_seq, ${DELIVERY_COLUMNS}`,
        [ids, from, now],
      );
      if (rows.length) {
        await refresh(rows.map((r) => num(r.event_seq)));
        await wake();
      }
      return rows.map(toDelivery);
    },

    async cancel(id: string, now: number): Promise<DeliveryRow | undefined> {
      // Nobody holds it: canceled now. A worker holds it: it is told, and records the cancel
      // when its attempt ends (or drops it if it has not started).
      const [row] = await q(
        "cancel",
        `WITH held AS (SELECT d.id, (d.locked_by IS NOT NULL AND d.locked_until > ${NOW_MS}) AS held FROM ${s}.deliveries d WHERE d.id = $1 FOR UPDATE)
         UPDATE ${s}.deliveries d SET
           status = CASE WHEN held.held THEN d.status ELSE 'canceled' END,
           next_attempt_at = CASE WHEN held.held THEN d.next_attempt_at END,
           completed_at = CASE WHEN held.held THEN d.completed_at ELSE $2::int8 END,
           updated_at = CASE WHEN held.held THEN d.updated_at ELSE $2::int8 END,
           run_at = CASE WHEN held.held THEN d.run_at END,
           locked_by = CASE WHEN held.held THEN d.locked_by END,
           locked_until = CASE WHEN held.held THEN d.locked_until END,
           cancel_requested = held.held
         FROM held WHERE d.id = held.id AND d.status IN ${OPEN_SQL}
         RETURNING d.event_seq, ${DELIVERY_COLUMNS}`,
        [id, now],
      );
      if (!row) return undefined;
      await refresh([num(row.event_seq)]);
      return toDelivery(row);
    },

    subscribe(listener: () => void) {
      listeners.add(listener);
      if (listeners.size === 1) void startListening();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) void stopListening();
      };
    },
  };

  // ─── the store ──────────────────────────────────────────────────────────────────────────────

  return {
    name: "postgres",
    durable: true,
    schema: schemaName,
    get pool(): pg.Pool {
      return db();
    },
    queue,

    async open() {
      if (opened) return;
      if (!pool) {
        pool = new pg.Pool({ connectionString: options.connectionString, max: options.max ?? 10, application_name: "meshwork" });
        // An idle client that loses its connection must not crash the process; the next query reconnects.
        pool.on("error", () => {});
        ownPool = true;
      }
      try {
        if (options.migrate !== false) await migrate({ pool, schema: schemaName });
        else {
          const [row] = (await pool.query(`SELECT to_regclass($1) AS t`, [`${schemaName}.deliveries`])).rows as Raw[];
          if (!row?.t) throw new MeshworkRulesError("store_version", `Postgres schema "${schemaName}" has no Meshwork tables; run migrate() (or \`meshwork migrate\`) first`);
        }
      } catch (error) {
        if (ownPool) {
          await pool.end().catch(() => {});
          pool = undefined;
          ownPool = false;
        }
        throw storeError("open", error);
      }
      opened = true;
      if (listeners.size) void startListening();
    },

    async close() {
      if (!opened) return;
      await stopListening();
      opened = false;
      if (ownPool && pool) {
        const p = pool;
        pool = undefined;
        ownPool = false;
        await p.end();
      }
    },

    async insertEvents(items: NewEvent[], insertOptions: InsertOptions = {}): Promise<InsertResult[]> {
      const on = (insertOptions.tx as Queryable | undefined) ?? db();
      if (insertOptions.tx !== undefined && typeof (insertOptions.tx as Queryable).query !== "function") {
        throw new MeshworkRulesError("invalid_request", "tx: must be a pg client (or pool client) inside BEGIN");
      }
      if (items.length === 0) return [];
      const first = new Map<string, number>();
      const ev = { ws: [] as string[], id: [] as string[], name: [] as string[], res: [] as (string | null)[], rid: [] as (string | null)[], payload: [] as string[], by: [] as string[], at: [] as number[], status: [] as string[], total: [] as number[] };
      const d = {
        id: [] as string[], ws: [] as string[], eid: [] as string[], rule: [] as string[], conn: [] as string[], action: [] as string[], type: [] as string[], name: [] as string[], status: [] as string[],
        count: [] as number[], round: [] as number[], next: [] as (number | null)[], err: [] as (string | null)[], outcome: [] as (string | null)[], key: [] as string[], created: [] as number[], updated: [] as number[], completed: [] as (number | null)[], run: [] as (number | null)[],
      };
      for (let i = 0; i < items.length; i++) {
        const { event, deliveries, payloadJson } = items[i]!;
        const key = `${event.workspace}\u0000${event.id}`;
        if (first.has(key)) continue;
        first.set(key, i);
        ev.ws.push(event.workspace);
        ev.id.push(event.id);
        ev.name.push(event.event);
        ev.res.push(event.resource);
        ev.rid.push(event.resource_id);
        ev.payload.push(payloadJson ?? JSON.stringify(event.payload));
        ev.by.push(event.created_by);
        ev.at.push(event.created_at);
        ev.status.push(deliveries.length ? "pending" : "completed");
        ev.total.push(deliveries.length);
        for (const r of deliveries) {
          d.id.push(r.id);
          d.ws.push(r.workspace);
          d.eid.push(r.event_id);
          d.rule.push(r.rule_id);
          d.conn.push(r.connection);
          d.action.push(r.action);
          d.type.push(r.integration_type);
          d.name.push(r.event);
          d.status.push(r.status);
          d.count.push(r.attempt_count);
          d.round.push(r.round_start);
          d.next.push(r.next_attempt_at);
          d.err.push(r.last_error);
          d.outcome.push(r.last_outcome);
          d.key.push(r.idempotency_key);
          d.created.push(r.created_at);
          d.updated.push(r.updated_at);
          d.completed.push(r.completed_at);
          d.run.push(isOpen(r.status) ? (r.next_attempt_at ?? r.created_at) : null);
        }
      }
      // One statement: atomic on its own, or part of the caller's transaction (outbox).
      const wakeWorkers = notify && d.id.length > 0;
      const rows = await q(
        "insert",
        `WITH ins AS (
           INSERT INTO ${s}.events (workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules)
           SELECT u.workspace, u.id, u.event, u.resource, u.resource_id, u.payload, u.created_by, u.created_at, u.status, u.total_rules
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::json[], $7::text[], $8::int8[], $9::text[], $10::int4[])
             WITH ORDINALITY AS u(workspace, id, event, resource, resource_id, payload, created_by, created_at, status, total_rules, ord)
           ORDER BY u.ord
           ON CONFLICT (workspace, id) DO NOTHING
           RETURNING seq, workspace, id
         ), dl AS (
           INSERT INTO ${s}.deliveries (id, event_seq, workspace, event_id, rule_id, connection, action, integration_type, event, status,
             attempt_count, round_start, next_attempt_at, last_error, last_outcome, idempotency_key, created_at, updated_at, completed_at, run_at)
           SELECT u.id, ins.seq, u.workspace, u.event_id, u.rule_id, u.connection, u.action, u.integration_type, u.event, u.status,
             u.attempt_count, u.round_start, u.next_attempt_at, u.last_error, u.last_outcome, u.idempotency_key, u.created_at, u.updated_at, u.completed_at, u.run_at
           FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
             $20::int4[], $21::int4[], $22::int8[], $23::text[], $24::text[], $25::text[], $26::int8[], $27::int8[], $28::int8[], $29::int8[])
             AS u(id, workspace, event_id, rule_id, connection, action, integration_type, event, status,
               attempt_count, round_start, next_attempt_at, last_error, last_outcome, idempotency_key, created_at, updated_at, completed_at, run_at)
           JOIN ins ON ins.workspace = u.workspace AND ins.id = u.event_id
           RETURNING 1
         )
         SELECT ins.seq, ins.workspace, ins.id${wakeWorkers ? `, (SELECT pg_notify($30, '') WHERE EXISTS (SELECT 1 FROM dl)) IS NULL AS n` : ", (SELECT count(*) FROM dl) AS n"} FROM ins`,
        [
          ev.ws, ev.id, ev.name, ev.res, ev.rid, ev.payload, ev.by, ev.at, ev.status, ev.total,
          d.id, d.ws, d.eid, d.rule, d.conn, d.action, d.type, d.name, d.status, d.count, d.round, d.next, d.err, d.outcome, d.key, d.created, d.updated, d.completed, d.run,
          ...(wakeWorkers ? [channel] : []),
        ],
        on,
      );
      const seqs = new Map<string, number>();
      for (const r of rows) seqs.set(`${r.workspace}\u0000${r.id}`, num(r.seq));
      const results: InsertResult[] = new Array(items.length);
      const missing: number[] = [];
      for (let i = 0; i < items.length; i++) {
        const { event, deliveries } = items[i]!;
        const key = `${event.workspace}\u0000${event.id}`;
        const seq = seqs.get(key);
        if (seq !== undefined && first.get(key) === i) {
          const status = deliveries.length ? "pending" : "completed";
          results[i] = { inserted: true, event: { ...event, seq, status, total_rules: deliveries.length, completed_count: 0, failed_count: 0 } };
        } else missing.push(i);
      }
      if (missing.length) {
        const found = await q(
          "insert",
          `SELECT ${EVENT_COLUMNS} FROM ${s}.events e JOIN unnest($1::text[], $2::text[]) AS k(workspace, id) ON e.workspace = k.workspace AND e.id = k.id`,
          [missing.map((i) => items[i]!.event.workspace), missing.map((i) => items[i]!.event.id)],
          on,
        );
        const byKey = new Map(found.map((r) => [`${r.workspace}\u0000${r.id}`, toEvent(r)]));
        for (const i of missing) {
          const { event } = items[i]!;
          const existing = byKey.get(`${event.workspace}\u0000${event.id}`);
          if (!existing) throw new MeshworkRulesError("store_error", `Postgres insert: event ${event.id} neither inserted nor found`, { retryable: true });
          results[i] = { inserted: false, event: existing };
        }
      }
      return results;
    },

    async write(batch: WriteBatch): Promise<WriteResult | void> {
      const { deliveries, attempts } = batch;
      if (deliveries.length === 0 && attempts.length === 0) return batch.worker === undefined ? undefined : { lost: [] };
      // Read everything now: the engine goes on mutating the rows once we await.
      const n = deliveries.length;
      const ids = new Array<string>(n), status = new Array<string>(n), count = new Array<number>(n), round = new Array<number>(n);
      const next = new Array<number | null>(n), err = new Array<string | null>(n), outcome = new Array<string | null>(n);
      const updated = new Array<number>(n), completed = new Array<number | null>(n), keep = new Array<boolean>(n);
      const held = batch.worker !== undefined ? batch.held : undefined;
      for (let i = 0; i < n; i++) {
        const r = deliveries[i]!;
        ids[i] = r.id;
        status[i] = r.status;
        count[i] = r.attempt_count;
        round[i] = r.round_start;
        next[i] = r.next_attempt_at;
        err[i] = r.last_error;
        outcome[i] = r.last_outcome;
        updated[i] = r.updated_at;
        completed[i] = r.completed_at;
        keep[i] = held ? held.has(r.id) : false;
      }
      const m = attempts.length;
      const a = {
        delivery: new Array<string>(m), attempt: new Array<number>(m), ws: new Array<string>(m), event: new Array<string>(m), rule: new Array<string>(m), started: new Array<number>(m),
        duration: new Array<number>(m), status: new Array<number | null>(m), outcome: new Array<string>(m), retryable: new Array<boolean>(m), message: new Array<string>(m), detail: new Array<string | null>(m),
      };
      for (let i = 0; i < m; i++) {
        const x = attempts[i]!;
        a.delivery[i] = x.delivery_id;
        a.attempt[i] = x.attempt;
        a.ws[i] = x.workspace;
        a.event[i] = x.event_id;
        a.rule[i] = x.rule_id;
        a.started[i] = x.started_at;
        a.duration[i] = Math.max(0, Math.round(x.duration_ms));
        a.status[i] = x.status;
        a.outcome[i] = x.outcome;
        a.retryable[i] = x.retryable;
        a.message[i] = x.message;
        a.detail[i] = x.exchanges.length || x.notes.length ? JSON.stringify({ exchanges: x.exchanges, notes: x.notes }) : null;
      }
      const rows = await q(
        "write",
        `SELECT x AS id FROM ${s}.write_batch($1, $2::text[], $3::text[], $4::int4[], $5::int4[], $6::int8[], $7::text[], $8::text[], $9::int8[], $10::int8[], $11::boolean[],
           $12::text[], $13::int4[], $14::text[], $15::text[], $16::text[], $17::int8[], $18::int4[], $19::int4[], $20::text[], $21::boolean[], $22::text[], $23::json[]) AS x`,
        [
          batch.worker ?? null, ids, status, count, round, next, err, outcome, updated, completed, keep,
          a.delivery, a.attempt, a.ws, a.event, a.rule, a.started, a.duration, a.status, a.outcome, a.retryable, a.message, a.detail,
        ],
      );
      if (batch.worker === undefined) return undefined;
      // Rows written back to the queue due now wake the other workers.
      if (notify && deliveries.some((r, i) => !keep[i] && isOpen(status[i] as DeliveryStatus) && (next[i] ?? 0) <= updated[i]!)) await wake();
      return { lost: rows.map((r) => r.id as string) };
    },

    async openDeliveries() {
      const rows = await q(
        "read",
        `SELECT ${DELIVERY_COLUMNS}, ${JOINED_EVENT_COLUMNS} FROM ${s}.deliveries d JOIN ${s}.events e ON e.seq = d.event_seq
         WHERE d.status IN ${OPEN_SQL} ORDER BY e.seq, d.id`,
      );
      return toJoined(rows);
    },

    async dueDeliveries(time: number, limit: number) {
      const rows = await q(
        "read",
        `SELECT ${DELIVERY_COLUMNS}, ${JOINED_EVENT_COLUMNS} FROM ${s}.deliveries d JOIN ${s}.events e ON e.seq = d.event_seq
         WHERE d.status IN ${OPEN_SQL} AND coalesce(d.next_attempt_at, 0) <= $1 ORDER BY d.next_attempt_at NULLS FIRST, d.id LIMIT $2`,
        [time, limit],
      );
      return toJoined(rows);
    },

    async getEvents(id: string, workspace?: string) {
      const rows =
        workspace === undefined
          ? await q("read", `SELECT ${EVENT_COLUMNS} FROM ${s}.events e WHERE e.id = $1 ORDER BY e.seq`, [id])
          : await q("read", `SELECT ${EVENT_COLUMNS} FROM ${s}.events e WHERE e.workspace = $1 AND e.id = $2`, [workspace, id]);
      return rows.map(toEvent);
    },

    async listEvents(query: StoreEventQuery) {
      const where: string[] = [];
      const params: unknown[] = [];
      const p = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      if (query.workspaces) where.push(`e.workspace = ANY(${p(query.workspaces)}::text[])`);
      if (query.statuses) where.push(`e.status = ANY(${p(query.statuses)}::text[])`);
      if (query.event !== undefined) where.push(`e.event = ${p(query.event)}`);
      if (query.resource !== undefined) where.push(`e.resource = ${p(query.resource)}`);
      if (query.resource_id !== undefined) where.push(`e.resource_id = ${p(query.resource_id)}`);
      if (query.since !== undefined) where.push(`e.created_at >= ${p(query.since)}`);
      if (query.until !== undefined) where.push(`e.created_at < ${p(query.until)}`);
      if (query.beforeSeq !== undefined) where.push(`e.seq < ${p(query.beforeSeq)}`);
      const rows = await q(
        "read",
        `SELECT ${EVENT_COLUMNS} FROM ${s}.events e ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY e.seq DESC LIMIT ${p(query.limit)}`,
        params,
      );
      return rows.map(toEvent);
    },

    async eventDeliveries(workspace: string, eventId: string) {
      const rows = await q(
        "read",
        `SELECT ${DELIVERY_COLUMNS} FROM ${s}.events e JOIN ${s}.deliveries d ON d.event_seq = e.seq WHERE e.workspace = $1 AND e.id = $2 ORDER BY d.id`,
        [workspace, eventId],
      );
      return rows.map(toDelivery);
    },

    async getDelivery(workspace: string, eventId: string, ruleId: string) {
      const rows = await q(
        "read",
        `SELECT ${DELIVERY_COLUMNS}, ${JOINED_EVENT_COLUMNS} FROM ${s}.events e JOIN ${s}.deliveries d ON d.event_seq = e.seq
         WHERE e.workspace = $1 AND e.id = $2 AND d.rule_id = $3`,
        [workspace, eventId, ruleId],
      );
      return toJoined(rows)[0];
    },

    async listAttempts(deliveryId: string) {
      const rows = await q("read", `SELECT * FROM ${s}.attempts WHERE delivery_id = $1 ORDER BY attempt`, [deliveryId]);
      return rows.map(toAttempt);
    },

    async findDeliveries(query: StoreDeliveryQuery) {
      const params: unknown[] = [];
      const p = (value: unknown) => {
        params.push(value);
        return `$${params.length}`;
      };
      const where = [`d.workspace = ${p(query.workspace)}`, `d.status = ANY(${p(query.statuses)}::text[])`];
      if (query.connection !== undefined) where.push(`d.connection = ${p(query.connection)}`);
      if (query.rule !== undefined) where.push(`d.rule_id = ${p(query.rule)}`);
      if (query.event !== undefined) where.push(`d.event = ${p(query.event)}`);
      if (query.outcomes) where.push(`d.last_outcome = ANY(${p(query.outcomes)}::text[])`);
      if (query.since !== undefined) where.push(`e.created_at >= ${p(query.since)}`);
      if (query.until !== undefined) where.push(`e.created_at < ${p(query.until)}`);
      const rows = await q(
        "read",
        `SELECT ${DELIVERY_COLUMNS}, ${JOINED_EVENT_COLUMNS} FROM ${s}.deliveries d JOIN ${s}.events e ON e.seq = d.event_seq
         WHERE ${where.join(" AND ")} ORDER BY e.seq, d.id`,
        params,
      );
      return toJoined(rows);
    },

    async connectionStatuses(): Promise<ConnectionStatusRow[]> {
      const rows = await q("read", `SELECT connection, disabled_at, reason FROM ${s}.connection_status ORDER BY connection`);
      return rows.map((r) => ({ connection: r.connection, disabled_at: num(r.disabled_at), reason: r.reason }));
    },

    async setConnectionStatus(connection: string, status: ConnectionStatusRow | null) {
      if (status) {
        await q(
          "write",
          `INSERT INTO ${s}.connection_status (connection, disabled_at, reason) VALUES ($1, $2, $3)
           ON CONFLICT (connection) DO UPDATE SET disabled_at = EXCLUDED.disabled_at, reason = EXCLUDED.reason`,
          [connection, status.disabled_at, status.reason],
        );
      } else await q("write", `DELETE FROM ${s}.connection_status WHERE connection = $1`, [connection]);
    },
  };
}

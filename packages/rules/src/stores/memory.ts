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
import { OPEN_STATUSES, summarizeDeliveries } from "./shared.js";

interface MemEvent {
  row: EventRow;
  deliveries: MemDelivery[];
}

interface MemDelivery {
  row: DeliveryRow;
  event: MemEvent;
  /** One attempt (most deliveries) or several. */
  attempts: AttemptRow | AttemptRow[] | undefined;
}

/**
 * Rows handed to the engine (and the engine's own rows passed to `insertEvents`) carry a
 * pointer to the stored entry, so a write finds it without a lookup.
 */
const ENTRY = Symbol("meshwork.memory-entry");
type Tagged = DeliveryRow & { [ENTRY]?: MemDelivery };

function copyDelivery(r: DeliveryRow): DeliveryRow {
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
    next_attempt_at: r.next_attempt_at,
    last_error: r.last_error,
    last_outcome: r.last_outcome,
    idempotency_key: r.idempotency_key,
    created_at: r.created_at,
    updated_at: r.updated_at,
    completed_at: r.completed_at,
  };
}

/**
 * A store that keeps everything in memory: the default, for tests, demos and apps that accept
 * losing undelivered events on a crash. Nothing is evicted; the objects it is given (events,
 * payloads, delivery rows) are kept as they are, not copied. Use `sqliteStore` for anything
 * long-lived.
 *
 * @example
 * const engine = createEngine({ config, destinations, store: memoryStore() });
 */
export function memoryStore(): Store {
  /** workspace → event id → event. */
  const events = new Map<string, Map<string, MemEvent>>();
  const ordered: MemEvent[] = [];
  /** Delivery id → entry, built lazily (only history lookups by id need it, not the hot path). */
  const deliveries = new Map<string, MemDelivery>();
  let indexedEvents = 0;
  const byDeliveryId = (id: string): MemDelivery | undefined => {
    const known = deliveries.get(id);
    if (known || indexedEvents === ordered.length) return known;
    for (; indexedEvents < ordered.length; indexedEvents++) for (const entry of ordered[indexedEvents]!.deliveries) deliveries.set(entry.row.id, entry);
    return deliveries.get(id);
  };
  const statuses = new Map<string, ConnectionStatusRow>();

  const eventOf = (workspace: string, id: string) => events.get(workspace)?.get(id);

  const handOut = (entry: MemDelivery): DeliveryRow => {
    const copy = copyDelivery(entry.row) as Tagged;
    copy[ENTRY] = entry;
    return copy;
  };

  const withEvent = (entry: MemDelivery): DeliveryWithEvent => ({ delivery: handOut(entry), event: { ...entry.event.row } });

  const refresh = (event: MemEvent) => {
    const summary = summarizeDeliveries(event.deliveries, (d) => d.row);
    event.row.status = summary.status;
    event.row.completed_count = summary.completed_count;
    event.row.failed_count = summary.failed_count;
  };

  const allDeliveries = function* () {
    for (const event of ordered) yield* event.deliveries;
  };

  return {
    name: "memory",
    durable: false,
    async open() {},
    async close() {},

    async insertEvents(items: NewEvent[]): Promise<InsertResult[]> {
      const results: InsertResult[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const source = item.event;
        let byId = events.get(source.workspace);
        if (!byId) events.set(source.workspace, (byId = new Map()));
        const existing = byId.get(source.id);
        if (existing) {
          results[i] = { inserted: false, event: { ...existing.row } };
          continue;
        }
        const list = item.deliveries;
        // The store keeps the engine's own objects instead of copies: the engine only changes a
        // row in ways it then writes anyway, and nothing here has to survive the process.
        const row: EventRow = source;
        row.status = list.length ? "pending" : "completed";
        row.total_rules = list.length;
        row.completed_count = 0;
        row.failed_count = 0;
        row.seq = ordered.length + 1;
        const stored: MemEvent = { row, deliveries: new Array(list.length) };
        let fresh = true;
        for (let d = 0; d < list.length; d++) {
          const given = list[d]! as Tagged;
          const entry: MemDelivery = { row: given, event: stored, attempts: undefined };
          given[ENTRY] = entry;
          stored.deliveries[d] = entry;
          if (given.status !== "pending" || given.attempt_count > 0) fresh = false;
        }
        if (!fresh) refresh(stored);
        byId.set(row.id, stored);
        ordered.push(stored);
        results[i] = { inserted: true, event: row };
      }
      return results;
    },

    async write(batch) {
      let touched: MemEvent | Set<MemEvent> | undefined;
      // An attempt's delivery is written in the same batch: find it there, not in an index.
      const written = batch.attempts.length ? new Map<string, MemDelivery>() : undefined;
      for (const delivery of batch.deliveries) {
        const entry = (delivery as Tagged)[ENTRY] ?? byDeliveryId(delivery.id);
        if (!entry) continue;
        written?.set(delivery.id, entry);
        const row = entry.row;
        if (row !== delivery) {
          row.status = delivery.status;
          row.attempt_count = delivery.attempt_count;
          row.round_start = delivery.round_start;
          row.next_attempt_at = delivery.next_attempt_at;
          row.last_error = delivery.last_error;
          row.last_outcome = delivery.last_outcome;
          row.updated_at = delivery.updated_at;
          row.completed_at = delivery.completed_at;
        }
        if (touched === undefined) touched = entry.event;
        else if (touched !== entry.event) {
          if (!(touched instanceof Set)) touched = new Set([touched]);
          touched.add(entry.event);
        }
      }
      for (const attempt of batch.attempts) {
        const entry = written?.get(attempt.delivery_id) ?? byDeliveryId(attempt.delivery_id);
        if (!entry) continue;
        if (entry.attempts === undefined) entry.attempts = attempt;
        else if (Array.isArray(entry.attempts)) entry.attempts.push(attempt);
        else entry.attempts = [entry.attempts, attempt];
      }
      if (touched instanceof Set) for (const event of touched) refresh(event);
      else if (touched) refresh(touched);
    },

    async openDeliveries() {
      const out: DeliveryWithEvent[] = [];
      for (const entry of allDeliveries()) if (OPEN_STATUSES.includes(entry.row.status)) out.push(withEvent(entry));
      return out;
    },

    async dueDeliveries(time, limit) {
      const out: DeliveryWithEvent[] = [];
      for (const entry of allDeliveries()) {
        if (OPEN_STATUSES.includes(entry.row.status) && (entry.row.next_attempt_at ?? 0) <= time) out.push(withEvent(entry));
      }
      out.sort((a, b) => (a.delivery.next_attempt_at ?? 0) - (b.delivery.next_attempt_at ?? 0));
      return out.slice(0, limit);
    },

    async getEvents(id, workspace) {
      const out: EventRow[] = [];
      for (const [name, byId] of events) {
        if (workspace !== undefined && name !== workspace) continue;
        const found = byId.get(id);
        if (found) out.push({ ...found.row });
      }
      return out;
    },

    async listEvents(query: StoreEventQuery) {
      const out: EventRow[] = [];
      const start = Math.min(ordered.length, (query.beforeSeq ?? Infinity) - 1);
      for (let i = start - 1; i >= 0 && out.length < query.limit; i--) {
        const row = ordered[i]!.row;
        if (query.workspaces && !query.workspaces.includes(row.workspace)) continue;
        if (query.statuses && !query.statuses.includes(row.status)) continue;
        if (query.event !== undefined && row.event !== query.event) continue;
        if (query.resource !== undefined && row.resource !== query.resource) continue;
        if (query.resource_id !== undefined && row.resource_id !== query.resource_id) continue;
        if (query.since !== undefined && row.created_at < query.since) continue;
        if (query.until !== undefined && row.created_at >= query.until) continue;
        out.push({ ...row });
      }
      return out;
    },

    async eventDeliveries(workspace, eventId) {
      return eventOf(workspace, eventId)?.deliveries.map(handOut) ?? [];
    },

    async getDelivery(workspace, eventId, ruleId) {
      const entry = eventOf(workspace, eventId)?.deliveries.find((d) => d.row.rule_id === ruleId);
      return entry ? withEvent(entry) : undefined;
    },

    async listAttempts(deliveryId) {
      const attempts = byDeliveryId(deliveryId)?.attempts;
      return (attempts === undefined ? [] : Array.isArray(attempts) ? attempts : [attempts]).map((a) => ({ ...a }));
    },

    async findDeliveries(query: StoreDeliveryQuery) {
      const out: DeliveryWithEvent[] = [];
      const byId = events.get(query.workspace);
      if (!byId) return out;
      for (const event of ordered) {
        const e = event.row;
        if (e.workspace !== query.workspace) continue;
        if (query.since !== undefined && e.created_at < query.since) continue;
        if (query.until !== undefined && e.created_at >= query.until) continue;
        for (const entry of event.deliveries) {
          const d = entry.row;
          if (!query.statuses.includes(d.status)) continue;
          if (query.connection !== undefined && d.connection !== query.connection) continue;
          if (query.rule !== undefined && d.rule_id !== query.rule) continue;
          if (query.event !== undefined && d.event !== query.event) continue;
          if (query.outcomes && (d.last_outcome === null || !query.outcomes.includes(d.last_outcome))) continue;
          out.push(withEvent(entry));
        }
      }
      return out;
    },

    async connectionStatuses() {
      return [...statuses.values()].map((s) => ({ ...s }));
    },

    async setConnectionStatus(connection, status) {
      if (status) statuses.set(connection, { ...status });
      else statuses.delete(connection);
    },
  };
}

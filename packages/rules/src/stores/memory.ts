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
  deliveries: DeliveryRow[];
}

const keyOf = (workspace: string, id: string) => `${workspace}\u0000${id}`;

/**
 * A store that keeps everything in memory: the default, for tests, demos and apps that accept
 * losing undelivered events on a crash. Nothing is evicted; use `sqliteStore` for anything long-lived.
 *
 * @example
 * const engine = createEngine({ config, destinations, store: memoryStore() });
 */
export function memoryStore(): Store {
  const events = new Map<string, MemEvent>();
  const eventsById = new Map<string, MemEvent[]>();
  const ordered: MemEvent[] = [];
  const deliveries = new Map<string, { row: DeliveryRow; event: MemEvent }>();
  const attempts = new Map<string, AttemptRow[]>();
  const statuses = new Map<string, ConnectionStatusRow>();

  const withEvent = (entry: { row: DeliveryRow; event: MemEvent }): DeliveryWithEvent => ({
    delivery: { ...entry.row },
    event: { ...entry.event.row },
  });

  const refresh = (event: MemEvent) => {
    const summary = summarizeDeliveries(event.deliveries);
    event.row.status = summary.status;
    event.row.completed_count = summary.completed_count;
    event.row.failed_count = summary.failed_count;
  };

  return {
    name: "memory",
    async open() {},
    async close() {},

    async insertEvents(items: NewEvent[]): Promise<InsertResult[]> {
      const results: InsertResult[] = new Array(items.length);
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        const key = keyOf(item.event.workspace, item.event.id);
        const existing = events.get(key);
        if (existing) {
          results[i] = { inserted: false, event: { ...existing.row } };
          continue;
        }
        const row: EventRow = { ...item.event, seq: ordered.length + 1 };
        const stored: MemEvent = { row, deliveries: [] };
        for (const delivery of item.deliveries) {
          const copy = { ...delivery };
          stored.deliveries.push(copy);
          deliveries.set(copy.id, { row: copy, event: stored });
        }
        refresh(stored);
        row.total_rules = stored.deliveries.length;
        events.set(key, stored);
        const sameId = eventsById.get(row.id);
        if (sameId) sameId.push(stored);
        else eventsById.set(row.id, [stored]);
        ordered.push(stored);
        results[i] = { inserted: true, event: { ...row } };
      }
      return results;
    },

    async write(batch) {
      const touched = new Set<MemEvent>();
      for (const delivery of batch.deliveries) {
        const entry = deliveries.get(delivery.id);
        if (!entry) continue;
        const row = entry.row;
        row.status = delivery.status;
        row.attempt_count = delivery.attempt_count;
        row.round_start = delivery.round_start;
        row.next_attempt_at = delivery.next_attempt_at;
        row.last_error = delivery.last_error;
        row.last_outcome = delivery.last_outcome;
        row.updated_at = delivery.updated_at;
        row.completed_at = delivery.completed_at;
        touched.add(entry.event);
      }
      for (const attempt of batch.attempts) {
        const list = attempts.get(attempt.delivery_id);
        if (list) list.push(attempt);
        else attempts.set(attempt.delivery_id, [attempt]);
      }
      for (const event of touched) refresh(event);
    },

    async openDeliveries() {
      const out: DeliveryWithEvent[] = [];
      for (const entry of deliveries.values()) if (OPEN_STATUSES.includes(entry.row.status)) out.push(withEvent(entry));
      return out;
    },

    async dueDeliveries(time, limit) {
      const out: DeliveryWithEvent[] = [];
      for (const entry of deliveries.values()) {
        if (OPEN_STATUSES.includes(entry.row.status) && (entry.row.next_attempt_at ?? 0) <= time) out.push(withEvent(entry));
      }
      out.sort((a, b) => (a.delivery.next_attempt_at ?? 0) - (b.delivery.next_attempt_at ?? 0));
      return out.slice(0, limit);
    },

    async getEvents(id, workspace) {
      const found = eventsById.get(id) ?? [];
      return found.filter((e) => workspace === undefined || e.row.workspace === workspace).map((e) => ({ ...e.row }));
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
      const event = events.get(keyOf(workspace, eventId));
      return event ? event.deliveries.map((d) => ({ ...d })) : [];
    },

    async getDelivery(workspace, eventId, ruleId) {
      const event = events.get(keyOf(workspace, eventId));
      const row = event?.deliveries.find((d) => d.rule_id === ruleId);
      return event && row ? { delivery: { ...row }, event: { ...event.row } } : undefined;
    },

    async listAttempts(deliveryId) {
      return (attempts.get(deliveryId) ?? []).map((a) => ({ ...a }));
    },

    async findDeliveries(query: StoreDeliveryQuery) {
      const out: DeliveryWithEvent[] = [];
      for (const entry of deliveries.values()) {
        const d = entry.row;
        const e = entry.event.row;
        if (d.workspace !== query.workspace || !query.statuses.includes(d.status)) continue;
        if (query.connection !== undefined && d.connection !== query.connection) continue;
        if (query.rule !== undefined && d.rule_id !== query.rule) continue;
        if (query.event !== undefined && d.event !== query.event) continue;
        if (query.outcomes && (d.last_outcome === null || !query.outcomes.includes(d.last_outcome))) continue;
        if (query.since !== undefined && e.created_at < query.since) continue;
        if (query.until !== undefined && e.created_at >= query.until) continue;
        out.push(withEvent(entry));
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

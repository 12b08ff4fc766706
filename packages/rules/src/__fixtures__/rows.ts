import type { AttemptRow, DeliveryRow, EventRow } from "../types.js";

// Store rows as the engine hands them to a store, for the store tests.

export function event(workspace: string, id: string, extra: Partial<EventRow> = {}): EventRow {
  return {
    workspace,
    id,
    event: "page.completed",
    resource: null,
    resource_id: null,
    payload: { email: "alex@northstar.io", nested: { n: 1 } },
    created_by: "publishable_key:test",
    created_at: 1000,
    status: "pending",
    total_rules: 0,
    completed_count: 0,
    failed_count: 0,
    ...extra,
  };
}

export function delivery(workspace: string, eventId: string, rule: string, extra: Partial<DeliveryRow> = {}): DeliveryRow {
  const id = `d-${workspace}-${eventId}-${rule}`;
  return {
    id,
    workspace,
    event_id: eventId,
    rule_id: rule,
    connection: `conn-${rule}`,
    action: "add_note",
    integration_type: "acme",
    event: "page.completed",
    status: "pending",
    attempt_count: 0,
    round_start: 0,
    next_attempt_at: null,
    last_error: null,
    last_outcome: null,
    idempotency_key: id,
    created_at: 1000,
    updated_at: 1000,
    completed_at: null,
    ...extra,
  };
}

export function attempt(d: DeliveryRow, number: number, extra: Partial<AttemptRow> = {}): AttemptRow {
  return {
    delivery_id: d.id,
    workspace: d.workspace,
    event_id: d.event_id,
    rule_id: d.rule_id,
    attempt: number,
    started_at: 2000,
    duration_ms: 12,
    status: 503,
    outcome: "rejected_server_error",
    retryable: true,
    message: "answered 503",
    exchanges: [{ request: { method: "POST", url: "https://x.test/a", headers: {} }, response: { status: 503, headers: {} }, durationMs: 12 }],
    notes: ["warning: x"],
    ...extra,
  };
}

// The shapes the dashboard reads from the management API (see docs/dashboard.md).

// Shapes the engine already defines are imported (type-only: nothing is bundled).
import type { HttpSummary, Outcome } from "@meshwork/destination-kit";
import type { Attempt, DeliveryStatus, EventStatus } from "@meshwork/rules";

export type { Attempt, DeliveryStatus, EventStatus, HttpSummary, Outcome };

export interface Workspace {
  id: string;
  name: string;
  environment: string;
}

export interface DeliverySummary {
  rule_id: string;
  connection: string;
  integration_type: string;
  action: string;
  status: DeliveryStatus;
  attempt_count: number;
  last_outcome: Outcome | null;
  next_attempt_at: string | null;
}

export interface EventRecord {
  id: string;
  event: string;
  workspace: string;
  created_at: string;
  resource: string | null;
  resource_id: string | null;
  status: EventStatus;
  total_rules: number;
  completed_count: number;
  failed_count: number;
  deliveries: DeliverySummary[];
}

export interface EventPage {
  count: number;
  limit: number;
  next_cursor: string | null;
  scanned: number;
  records: EventRecord[];
}

export interface RuleEvent extends DeliverySummary {
  id: string;
  event_id: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
}

export interface EventDetail extends Omit<EventRecord, "deliveries"> {
  created_by?: string;
  rule_events: RuleEvent[];
  payload?: Record<string, unknown>;
}

export interface ConnectionHealth {
  attempts: number;
  window: number;
  delivered: number;
  success_rate: number | null;
  last_outcome: Outcome | null;
  last_attempt_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

export interface ConnectionRecord {
  id: string;
  type: string;
  name: string;
  mode: "live" | "sandbox";
  rules: number;
  circuit: "closed" | "open" | "half_open";
  disabled: boolean;
  in_flight: number;
  queued: number;
  health: ConnectionHealth;
}

export interface Series {
  window: string;
  outcomes: Outcome[];
  since: string;
  until: string;
  tracking_since: string;
  bucket_ms: number;
  buckets: Array<{ start: string; counts: Record<Outcome, number> }>;
  totals: Record<Outcome, number>;
}

import type { DeliveryRow, DeliveryStatus, EventStatus } from "../types.js";

/** Statuses a delivery can still leave. */
export const OPEN_STATUSES: readonly DeliveryStatus[] = ["pending", "processing", "retrying"];

/**
 * An event's status and counters from its deliveries (see `EventStatus`). The SQLite writer thread
 * runs it from its source text, so it stays self-contained (see `sqlite-writer.ts`).
 */
export function summarizeDeliveries<T = Pick<DeliveryRow, "status" | "attempt_count">>(
  deliveries: readonly T[],
  rowOf: (item: T) => Pick<DeliveryRow, "status" | "attempt_count"> = (item) => item as Pick<DeliveryRow, "status" | "attempt_count">,
): {
  status: EventStatus;
  completed_count: number;
  failed_count: number;
} {
  let open = 0;
  let started = false;
  let completed = 0;
  let failed = 0;
  let canceled = 0;
  for (let i = 0; i < deliveries.length; i++) {
    const d = rowOf(deliveries[i]!);
    switch (d.status) {
      case "pending":
        open++;
        if (d.attempt_count > 0) started = true;
        break;
      case "processing":
      case "retrying":
        open++;
        started = true;
        break;
      case "completed":
        completed++;
        break;
      case "failed":
        failed++;
        break;
      case "canceled":
        canceled++;
        break;
    }
  }
  let status: EventStatus;
  if (open > 0) status = started || completed + failed + canceled > 0 ? "processing" : "pending";
  else if (failed > 0) status = "failed";
  else if (canceled > 0 && completed === 0) status = "canceled";
  else status = "completed";
  return { status, completed_count: completed, failed_count: failed };
}

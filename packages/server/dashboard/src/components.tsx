import type { ComponentChildren } from "preact";
import { ago, formatTime, OUTCOME_LABELS } from "./format.js";
import type { DeliveryStatus, EventStatus, Outcome } from "./types.js";

const STATUS_LABELS: Record<DeliveryStatus, string> = {
  pending: "Pending",
  processing: "Processing",
  retrying: "Retrying",
  completed: "Completed",
  failed: "Failed",
  canceled: "Canceled",
};

/** A status as text and colour (the colour never carries the meaning alone). */
export function StatusBadge({ status }: { status: EventStatus | DeliveryStatus }) {
  return <span class={`badge status-${status}`}>{STATUS_LABELS[status] ?? status}</span>;
}

export function OutcomeBadge({ outcome }: { outcome: Outcome }) {
  return <span class={`badge outcome-${outcome}`}>{OUTCOME_LABELS[outcome] ?? outcome}</span>;
}

/** A time shown relative ("3 min ago"), the exact time in a tooltip and to machines. */
export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span>—</span>;
  return (
    <time dateTime={iso} title={formatTime(iso)}>
      {ago(iso)}
    </time>
  );
}

export function ErrorNotice({ message }: { message: string | undefined }) {
  if (!message) return null;
  return (
    <p class="notice error" role="alert">
      {message}
    </p>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="muted" role="status">
      {label}
    </p>
  );
}

/** The page's h1 (focused on page changes), what belongs beside it, and controls at the far end. */
export function PageHeader({ title, headingRef, children, end }: { title: string; headingRef: { current: HTMLHeadingElement | null }; children?: ComponentChildren; end?: ComponentChildren }) {
  return (
    <div class="page-header">
      <h1 ref={headingRef} tabIndex={-1}>
        {title}
      </h1>
      {children}
      {end && <div class="end">{end}</div>}
    </div>
  );
}

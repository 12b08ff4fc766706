import type { Outcome } from "./types.js";

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const shortTime = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });

export const formatTime = (iso: string | null | undefined): string => (iso ? timeFormat.format(new Date(iso)) : "—");
export const formatClock = (iso: string): string => shortTime.format(new Date(iso));

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = Math.round((now - Date.parse(iso)) / 1000);
  if (seconds < 0) return `in ${duration(-seconds * 1000)}`;
  if (seconds < 5) return "just now";
  return `${duration(seconds * 1000)} ago`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = s / 60;
  if (m < 60) return `${Math.round(m)} min`;
  const h = m / 60;
  if (h < 48) return `${Math.round(h)} h`;
  return `${Math.round(h / 24)} d`;
}

export const OUTCOME_LABELS: Record<Outcome, string> = {
  delivered: "Delivered",
  rejected_client_error: "Rejected (4xx)",
  rejected_server_error: "Server error (5xx)",
  rate_limited: "Rate limited",
  auth_failed: "Auth failed",
  timeout: "Timeout",
  network_error: "Network error",
  mapping_error: "Mapping error",
  internal_error: "Internal error",
};

export const percent = (value: number | null): string => (value === null ? "—" : `${Math.round(value * 1000) / 10}%`);

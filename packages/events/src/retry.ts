import { MeshworkDeliveryError } from "./errors.js";
import type { FailedRecord } from "./types.js";

/** 408, 425, 429 and 5xx except 501 (not implemented) and 505 (version not supported). */
export const isRetryableStatus = (status: number): boolean =>
  status === 408 || status === 425 || status === 429 || (status >= 500 && status < 600 && status !== 501 && status !== 505);

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base · 2^(attempt-1))]. */
export const backoff = (attempt: number, baseMs: number, maxMs: number): number =>
  Math.random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 40));

const RETRYABLE_RECORD_CODES =
  /^(internal(_error)?|server_error|timeout|timed_out|rate_limited|too_many_requests|unavailable|service_unavailable|temporarily_unavailable|network_error|retryable|try_again)$/;

/** A bulk record that was not stored: a `{ message, error }` rather than a stored event. */
export const isFailedRecord = (record: unknown): boolean =>
  typeof record !== "object" ||
  record === null ||
  (typeof (record as FailedRecord).message === "string" && typeof (record as { event?: unknown }).event !== "string");

/** Whether a failed bulk record is worth sending again (see `FailedRecord`). */
export function isRetryableRecord(record: FailedRecord): boolean {
  if (typeof record.retryable === "boolean") return record.retryable;
  if (typeof record.status === "number") return isRetryableStatus(record.status);
  const error = record.error as { code?: unknown } | string | undefined;
  const code = typeof error === "string" ? error : typeof error?.code === "string" ? error.code : "";
  return RETRYABLE_RECORD_CODES.test(code.toLowerCase());
}

/** What one send of a batch came to. */
export type SendOutcome =
  | { kind: "ok"; status: number; records: unknown[] | undefined; data: unknown }
  | { kind: "retry"; error: MeshworkDeliveryError; retryAfterMs?: number | undefined }
  | { kind: "fail"; error: MeshworkDeliveryError; status?: number };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null;

/** Reads an HTTP answer of the wire protocol into an outcome. */
export function classifyResponse(
  status: number,
  statusText: string,
  text: string | undefined,
  retryAfter: string | null,
): SendOutcome {
  let data: unknown = text ?? null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's HTML page, say): keep the text.
    }
  }
  if (status >= 200 && status < 300) {
    return { kind: "ok", status, records: isObject(data) && Array.isArray(data.records) ? data.records : undefined, data };
  }
  const retryable = isRetryableStatus(status);
  const detail = isObject(data) && typeof data.message === "string" ? data.message : statusText;
  const error = new MeshworkDeliveryError(`endpoint answered ${status}${detail ? `: ${detail}` : ""}`, {
    code: status === 429 ? "rate_limited" : retryable ? "unavailable" : "rejected",
    retryable,
    status,
    data: { status, statusText, data },
  });
  return retryable ? { kind: "retry", error, retryAfterMs: parseRetryAfter(retryAfter, Date.now()) } : { kind: "fail", error, status };
}

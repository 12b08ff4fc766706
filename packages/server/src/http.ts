import { MeshworkRulesError } from "@meshwork/rules";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { MeshworkServerError } from "./errors.js";

/** The JSON body of every failure: `message` for people, `error` a stable code, `field` when one field is at fault. */
export interface ErrorBody {
  message: string;
  error: string;
  field?: string;
}

/** A failure answer, with headers (e.g. `Retry-After`). */
export interface HttpProblem {
  status: ContentfulStatusCode;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/** Builds an error that the app's error handler answers as `status` with `{ message, error, field? }`. */
export function httpError(status: number, error: string, message: string, field?: string, headers?: Record<string, string>): MeshworkServerError {
  const e = new MeshworkServerError(error, message, { status });
  if (field !== undefined) Object.defineProperty(e, "field", { value: field, enumerable: false });
  if (headers) Object.defineProperty(e, "headers", { value: headers, enumerable: false });
  return e;
}

const RULES_STATUS: Record<string, number> = {
  invalid_request: 400,
  invalid_cursor: 400,
  not_found: 404,
  invalid_state: 409,
  ambiguous_event_id: 409,
  unknown_publishable_key: 401,
  engine_not_started: 503,
  engine_stopped: 503,
  engine_stopping: 503,
  drain_timeout: 503,
};

/** Maps anything thrown in a handler to an answer; `internal` is true when it is our fault (logged). */
export function toProblem(error: unknown): HttpProblem & { internal: boolean } {
  if (MeshworkServerError.isInstance(error) && error.status !== undefined) {
    const field = (error as { field?: string }).field;
    const headers = (error as { headers?: Record<string, string> }).headers;
    return {
      status: error.status as ContentfulStatusCode,
      body: { message: error.message, error: error.code, ...(field !== undefined && { field }) },
      ...(headers && { headers }),
      internal: error.status >= 500 && error.status !== 503,
    };
  }
  if (MeshworkRulesError.isInstance(error) || MeshworkServerError.isInstance(error)) {
    let status = RULES_STATUS[error.code];
    if (status === undefined) status = error.retryable ? 503 : 500;
    const internal = status === 500;
    return {
      status: status as ContentfulStatusCode,
      body: internal ? { message: "internal error; see the server log", error: "internal_error" } : { message: error.message, error: error.code },
      ...(status === 503 && { headers: { "retry-after": "1" } }),
      internal,
    };
  }
  if (error instanceof HTTPException) {
    return { status: error.status as ContentfulStatusCode, body: { message: error.message || "bad request", error: "bad_request" }, internal: false };
  }
  return { status: 500, body: { message: "internal error; see the server log", error: "internal_error" }, internal: true };
}

/** Answers a problem as JSON. */
export function problemResponse(c: Context, problem: HttpProblem): Response {
  return c.json(problem.body, problem.status, problem.headers);
}

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Parses a JSON body text; a syntax error becomes a 400 that says so. */
export function parseJson(text: string): unknown {
  if (text.trim() === "") throw httpError(400, "invalid_json", "the request body is empty; send JSON", "body");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw httpError(400, "invalid_json", `the request body is not valid JSON: ${(error as Error).message}`, "body");
  }
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** A time filter: ISO 8601, epoch ms, or a duration back from `now` such as `1h`, `30m`, `7d`. */
export function parseTime(value: unknown, field: string, now = Date.now()): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const text = value.trim();
    const duration = DURATION.exec(text);
    if (duration) return now - Number(duration[1]) * UNIT_MS[duration[2]!]!;
    if (/^\d+$/.test(text)) return Number(text);
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) return ms;
  }
  throw httpError(400, "invalid_request", `${field}: ${JSON.stringify(value)} is not a time (ISO 8601, epoch ms, or a duration back from now such as 1h, 30m, 7d)`, field);
}

/**
 * Hono's `bodyLimit`, with a fast path: a request that announces its length (no chunked
 * encoding) is checked by its `Content-Length` alone, so the body is later read straight from the
 * socket; touching `c.req.raw.body` as `bodyLimit` does would build a web stream per request.
 * Chunked bodies go through `bodyLimit`, which counts while streaming.
 */
export function limitBody(maxSize: number, message: string): MiddlewareHandler {
  const tooLarge = () => {
    throw httpError(413, "payload_too_large", message, "body");
  };
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return (c, next) => {
    const length = c.req.header("content-length");
    if (length !== undefined && c.req.header("transfer-encoding") === undefined) {
      if (!/^\d+$/.test(length)) throw httpError(400, "invalid_request", "Content-Length: must be a number of bytes", "Content-Length");
      return Number(length) > maxSize ? tooLarge() : next();
    }
    return streamed(c, next);
  };
}

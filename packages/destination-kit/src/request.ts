import { createFetch, type $Fetch } from "ofetch";
import { AuthError, DestinationError, PermanentError, RateLimitedError, RetryableError } from "./errors.js";
import { redactHeaders } from "./redact.js";
import { isSimulatorFetch, SimulatorRequestHeaders } from "./simulator.js";
import type {
  ExchangeSummary,
  HttpResponse,
  RateLimitFeedback,
  RequestClient,
  RequestHook,
  RequestOptions,
  ResponseClassifier,
} from "./types.js";

const SUMMARY_BODY_LIMIT = 2048;
/** `Retry-After` beyond this is clamped: the engine's schedule takes over. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** Everything a request client needs for one attempt. */
export interface RequestClientConfig {
  baseUrl: string;
  fetch: typeof fetch;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Aborts every request of the attempt (engine stop, close deadline). */
  signal?: AbortSignal;
  classify?: ResponseClassifier;
  rateLimitHeaders?: (headers: Headers) => RateLimitFeedback | undefined;
  onRateLimit?: (feedback: RateLimitFeedback) => void;
  /**
   * Awaited before each request goes out, e.g. to wait for a rate-limit token, so a budget holds
   * per HTTP request even when one attempt makes several. The request's timeout starts after it.
   */
  beforeRequest?: RequestHook;
  /** Receives each exchange, already redacted. */
  record: (exchange: ExchangeSummary) => void;
  redact: (text: string) => string;
  now: () => number;
}

/**
 * Creates the `request` function actions use: ofetch with the destination's base URL and headers,
 * a timeout per request, and every non-success classified into a typed `DestinationError`.
 */
export function createRequestClient(config: RequestClientConfig): RequestClient {
  const $fetch = fetchFor(config.fetch);
  const reuseSignals = isSimulatorFetch(config.fetch);

  return async function request<T>(path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
    const method = options.method ?? "GET";
    const headers: Record<string, string> = { accept: "application/json", ...config.headers, ...options.headers };
    // Serialized once, here: the same text goes out and into the attempt record.
    const body = isJsonBody(options.body) ? JSON.stringify(options.body) : options.body;
    if (body !== options.body && !hasHeader(headers, "content-type")) headers["content-type"] = "application/json";
    const timeoutMs = options.timeoutMs ?? config.timeoutMs;
    if (config.beforeRequest) {
      const turn = waitForTurn(config, method, path);
      if (turn) await turn;
    }
    const deadline = abortAfter(timeoutMs, config.signal, reuseSignals);
    const started = config.now();
    const requestSummary = {
      method,
      url: config.redact(describeUrl(config.baseUrl, path, options.query)),
      headers: redactHeaders(headers, config.redact),
      body: summarizeBody(body, config.redact),
    };

    let response: Awaited<ReturnType<typeof $fetch.raw<string, "text">>>;
    try {
      response = await $fetch.raw<string, "text">(path, {
        baseURL: config.baseUrl,
        method,
        query: options.query,
        body: body as BodyInit,
        headers,
        signal: deadline.signal,
        redirect: "manual",
        responseType: "text",
        retry: 0,
        ignoreResponseError: true,
      });
    } catch (error) {
      config.record({ request: requestSummary, durationMs: config.now() - started });
      if (deadline.timedOut()) {
        throw new RetryableError(`${method} ${requestSummary.url} timed out after ${timeoutMs} ms`, {
          code: "timeout",
          cause: error,
        });
      }
      if (config.signal?.aborted) {
        throw new RetryableError(`${method} ${requestSummary.url} was aborted`, { code: "timeout", cause: error });
      }
      const reason = config.redact(rootMessage(error));
      throw new RetryableError(`${method} ${requestSummary.url} failed: ${reason}`, {
        code: "network_error",
        cause: error,
      });
    } finally {
      deadline.clear();
    }

    const text = response._data ?? "";
    const data = parseBody(text, response.headers);
    config.record({
      request: requestSummary,
      response: {
        status: response.status,
        headers: redactHeaders(response.headers, config.redact),
        body: truncate(config.redact(text)),
      },
      durationMs: config.now() - started,
    });

    const feedback = config.rateLimitHeaders?.(response.headers);
    if (feedback) config.onRateLimit?.(feedback);

    const vendorError = config.classify?.({ status: response.status, headers: response.headers, data: data.value });
    if (vendorError) throw vendorError;

    const status = response.status;
    const accepted = status >= 200 && status < 300;
    if (!accepted && !options.accept?.includes(status)) {
      throw classifyStatus(status, response.headers, data.value, `${method} ${requestSummary.url}`, config);
    }
    if (accepted && (options.responseType ?? "json") === "json" && !data.json && status !== 204) {
      throw new RetryableError(
        `${method} ${requestSummary.url} answered ${status} with ${text ? "a body that is not JSON" : "an empty body"}; not counted as delivered`,
        { status },
      );
    }
    return { status, headers: response.headers, data: data.value as T };
  };
}

/**
 * One request's signal: aborted after `timeoutMs` or when `parent` aborts. A plain controller and
 * timer rather than `AbortSignal.any([parent, AbortSignal.timeout()])`, whose dependent signals
 * stay registered on the long-lived parent and make every later request slower (Node 20). The
 * parent gets one listener for all its requests: an EventTarget scans its listeners on each add.
 */
function abortAfter(timeoutMs: number, parent: AbortSignal | undefined, reuse = false) {
  const controller = (reuse && spare.pop()) || new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError"));
  }, timeoutMs);
  (timer as { unref?: () => void }).unref?.();
  const siblings = parent && requestsOf(parent);
  if (parent?.aborted) controller.abort(parent.reason);
  else siblings?.add(controller);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    clear() {
      clearTimeout(timer);
      siblings?.delete(controller);
      if (reuse && !controller.signal.aborted && spare.length < 1024) spare.push(controller);
    },
  };
}

/**
 * Controllers of finished in-process (simulator) requests, never aborted, for the next ones: on
 * Node 20 creating an `AbortSignal` costs more than a simulated request's own work. A simulator
 * leaves no listener on a signal it was not aborted through; a live `fetch` would (undici keeps
 * one per request until the request is collected), so live requests never share one.
 */
const spare: AbortController[] = [];

const inFlight = new WeakMap<AbortSignal, Set<AbortController>>();

/** The controllers of the requests running under `parent`, aborted together when it aborts. */
function requestsOf(parent: AbortSignal): Set<AbortController> {
  let set = inFlight.get(parent);
  if (!set) {
    const controllers = (set = new Set());
    inFlight.set(parent, set);
    parent.addEventListener("abort", () => {
      for (const controller of controllers) controller.abort(parent.reason);
      controllers.clear();
    }, { once: true });
  }
  return set;
}

/**
 * Runs the `beforeRequest` hook; a hook that fails (aborted while waiting) fails the attempt as
 * retryable. A promise only when the hook made one: a turn granted at once costs no await.
 */
function waitForTurn(config: RequestClientConfig, method: string, path: string): Promise<void> | undefined {
  const notSent = (error: unknown) => {
    if (DestinationError.isInstance(error)) return error;
    const url = config.redact(describeUrl(config.baseUrl, path, undefined));
    return new RetryableError(`${method} ${url} was not sent: ${config.redact(rootMessage(error))}`, { code: "timeout", cause: error });
  };
  let turn: ReturnType<RequestHook>;
  try {
    turn = config.beforeRequest!({ method, path, signal: config.signal });
  } catch (error) {
    throw notSent(error);
  }
  return turn
    ? Promise.resolve(turn).then(undefined, (error: unknown) => {
        throw notSent(error);
      })
    : undefined;
}

const clients = new WeakMap<typeof fetch, $Fetch>();

/** One ofetch instance per underlying fetch (live, or a sandbox simulator's). */
function fetchFor(fetchImpl: typeof fetch): $Fetch {
  let client = clients.get(fetchImpl);
  if (!client) {
    // A simulator's requests get its light `Headers` (see SimulatorRequestHeaders).
    client = createFetch(isSimulatorFetch(fetchImpl) ? { fetch: fetchImpl, Headers: SimulatorRequestHeaders } : { fetch: fetchImpl });
    clients.set(fetchImpl, client);
  }
  return client;
}

/** Maps an HTTP status to the typed error the engine acts on. */
export function classifyStatus(
  status: number,
  headers: Headers,
  body: unknown,
  what: string,
  clock: { now: () => number } = { now: Date.now },
): DestinationError {
  const detail = vendorMessage(body);
  const message = `${what} answered ${status}${detail ? `: ${detail}` : ""}`;
  if (status === 401) return new AuthError(message, { status });
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get("retry-after"), clock.now());
    return new RateLimitedError(message, { status, ...(retryAfterMs !== undefined && { retryAfterMs }) });
  }
  if (status === 408) return new RetryableError(message, { status, code: "timeout" });
  if (status === 425 || (status >= 500 && status !== 501 && status !== 505)) {
    return new RetryableError(message, { status });
  }
  if (status >= 500) return new DestinationError("rejected_server_error", false, message, { status });
  if (status >= 300 && status < 400) {
    return new PermanentError(`${what} answered a ${status} redirect, which is not followed`, { status });
  }
  return new PermanentError(message, { status });
}

/** `Retry-After` as milliseconds from now: delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  const ms = /^\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, Math.round(ms)), MAX_RETRY_AFTER_MS);
}

/** Reads the common `X-RateLimit-Limit/-Remaining/-Reset` (reset in unix seconds) headers. */
export function parseStandardRateLimitHeaders(headers: Headers): RateLimitFeedback | undefined {
  const remaining = headers.get("x-ratelimit-remaining");
  if (remaining === null) return undefined;
  const limit = headers.get("x-ratelimit-limit");
  const reset = headers.get("x-ratelimit-reset");
  return {
    remaining: Number(remaining),
    ...(limit !== null && { limit: Number(limit) }),
    ...(reset !== null && { resetAt: Number(reset) * 1000 }),
  };
}

/** The most useful line in a vendor's error body (`message`, `error`, `errors[0]`). */
export function vendorMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.trim() ? truncate(body.trim(), 200) : undefined;
  if (!body || typeof body !== "object") return undefined;
  const record = body as Record<string, unknown>;
  const first = Array.isArray(record.errors) ? (record.errors[0] as Record<string, unknown> | undefined) : undefined;
  const candidate =
    record.message ?? first?.message ?? first?.detail ?? first?.title ?? record.error_description ?? record.error;
  return typeof candidate === "string" ? truncate(candidate, 200) : undefined;
}

function parseBody(text: string, headers: Headers): { value: unknown; json: boolean } {
  const type = headers.get("content-type") ?? "";
  const first = text.charCodeAt(firstNonSpace(text));
  if (text && (type.includes("json") || first === 0x7b /* { */ || first === 0x5b /* [ */)) {
    try {
      return { value: JSON.parse(text), json: true };
    } catch {
      return { value: text, json: false };
    }
  }
  return { value: text, json: false };
}

/** Whether a header record has `name` (lowercase), in any case. */
function hasHeader(headers: Record<string, string>, name: string): boolean {
  for (const key in headers) if (key.toLowerCase() === name) return true;
  return false;
}

/** Where the first character other than JSON whitespace is (no trimmed copy of the text). */
function firstNonSpace(text: string): number {
  let i = 0;
  while (isJsonSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Space, tab, line feed or carriage return; false past the end (`charCodeAt` gives NaN). */
const isJsonSpace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;

/** Plain objects and arrays go as JSON (what ofetch would serialize itself). */
function isJsonBody(body: unknown): body is object {
  if (Array.isArray(body)) return true;
  if (body === null || typeof body !== "object") return false;
  const proto = Object.getPrototypeOf(body) as unknown;
  return proto === Object.prototype || proto === null;
}

function summarizeBody(body: unknown, redact: (text: string) => string): string | undefined {
  if (body === undefined || body === null) return undefined;
  const text = typeof body === "string" ? body : body instanceof URLSearchParams ? body.toString() : JSON.stringify(body);
  return truncate(redact(text));
}

function describeUrl(baseUrl: string, path: string, query: RequestOptions["query"]): string {
  const url = /^https?:\/\//.test(path) ? path : `${baseUrl.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
  if (!query) return url;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const qs = params.toString();
  return qs ? `${url}${url.includes("?") ? "&" : "?"}${qs}` : url;
}

function rootMessage(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

function truncate(text: string, limit = SUMMARY_BODY_LIMIT): string {
  return text.length > limit ? `${text.slice(0, limit)}… (${text.length} chars)` : text;
}

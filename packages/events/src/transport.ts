import { createFetch } from "ofetch";
import { MeshworkDeliveryError, MeshworkValidationError } from "./errors.js";
import { classifyResponse, type SendOutcome } from "./retry.js";
import type { EventsTransportTarget, WireEvent } from "./types.js";

/** Sends one batch body (a JSON array); never rejects except when `signal` aborts it. `keepalive` lets the request outlive the page. */
export interface Transport {
  send(body: string, idempotencyKey: string, signal: AbortSignal, keepalive?: boolean): Promise<SendOutcome>;
}

const PROTECTED = ["x-meshes-publishable-key", "content-type", "accept", "idempotency-key"];

/** Rejects, naming the header, any attempt to set a contract header. */
export function checkHeaders(headers: Record<string, string> | undefined, field = "headers"): void {
  for (const name of Object.keys(headers ?? {})) {
    if (PROTECTED.includes(name.toLowerCase())) {
      throw new MeshworkValidationError(`${field}.${name}`, "protected_header", "is a contract header and cannot be overridden");
    }
  }
}

/** Drops contract headers silently (per-request headers of `EventsClient`, as `@mesheshq/events` does). */
export const withoutProtected = (headers: Record<string, string> | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (!PROTECTED.includes(name.toLowerCase())) out[name] = value;
  return out;
};

/** A fetch bound late to `globalThis.fetch`, so interceptors installed after creation still apply. */
export const makeFetch = (fetchImpl?: typeof globalThis.fetch) =>
  createFetch({ fetch: fetchImpl ?? ((input, init) => globalThis.fetch(input, init)) });

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Posts a request and classifies the answer; network failures come back as retryable outcomes. */
export async function post(
  $fetch: ReturnType<typeof makeFetch>,
  url: string,
  body: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  keepalive?: boolean,
): Promise<SendOutcome> {
  let response;
  try {
    response = await $fetch.raw<string, "text">(url, {
      method: "POST",
      body,
      headers,
      signal,
      ...(keepalive && { keepalive }),
      retry: false,
      ignoreResponseError: true,
      responseType: "text",
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    return {
      kind: "retry",
      error: new MeshworkDeliveryError(`network error: ${describe(error)}`, { code: "network_error", retryable: true, cause: error }),
    };
  }
  return classifyResponse(response.status, response.statusText, response._data, response.headers.get("retry-after"));
}

/** Hosted mode: `POST {endpoint}/api/v1/events/bulk` with the contract headers. */
export function httpTransport(options: {
  endpoint: string;
  publishableKey: string;
  headers?: Record<string, string> | undefined;
  fetch?: typeof globalThis.fetch | undefined;
}): Transport {
  checkHeaders(options.headers);
  const $fetch = makeFetch(options.fetch);
  const base = options.endpoint.replace(/\/+$/, "");
  const url = /\/api\/v1$/.test(base) ? `${base}/events/bulk` : `${base}/api/v1/events/bulk`;
  const headers = {
    ...options.headers,
    "Content-Type": "application/json",
    Accept: "application/json",
    "X-Meshes-Publishable-Key": options.publishableKey,
  };
  const query = `?publishable_key=${encodeURIComponent(options.publishableKey)}&idempotency_key=`;
  return {
    send: (body, idempotencyKey, signal, keepalive) =>
      keepalive
        ? // A page going away: a CORS-simple request (no custom header, text/plain), because
          // Chromium runs the preflight of a keepalive request at unload and then drops the request.
          post($fetch, url + query + encodeURIComponent(idempotencyKey), body, KEEPALIVE_HEADERS, signal, true)
        : post($fetch, url, body, { ...headers, "Idempotency-Key": idempotencyKey }, signal),
  };
}

/** Only CORS-safelisted headers: the key and the Idempotency-Key go in the query string. */
const KEEPALIVE_HEADERS = { "Content-Type": "text/plain;charset=UTF-8", Accept: "application/json" };

/** In-process mode: `engine.ingest(events, { publishableKey })`; a thrown error is retried unless it says `retryable: false`. */
export function engineTransport(engine: EventsTransportTarget, publishableKey: string): Transport {
  return {
    async send(body) {
      const events = JSON.parse(body) as WireEvent[];
      try {
        const result = await engine.ingest(events, { publishableKey });
        return { kind: "ok", status: 201, records: Array.isArray(result?.records) ? result.records : undefined, data: result };
      } catch (cause) {
        const info = (typeof cause === "object" && cause !== null ? cause : {}) as { retryable?: unknown; retryAfterMs?: unknown };
        const retryable = info.retryable !== false;
        const error = new MeshworkDeliveryError(`engine.ingest failed: ${describe(cause)}`, {
          code: retryable ? "engine_error" : "rejected",
          retryable,
          cause,
        });
        return retryable
          ? { kind: "retry", error, retryAfterMs: typeof info.retryAfterMs === "number" ? info.retryAfterMs : undefined }
          : { kind: "fail", error };
      }
    },
  };
}

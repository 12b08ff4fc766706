import type { DestinationOptions, Simulator } from "@meshwork/destination-kit";
import type { Hono } from "hono";
import type { IncomingMessage, ServerResponse } from "node:http";

/** How the receiver authenticates the request, on top of the signature. */
export type WebhookAuth =
  | { type: "none" }
  | { type: "bearer"; token: string }
  | { type: "basic"; username: string; password: string };

/** The credentials of a `webhook` connection. */
export interface WebhookCredentials {
  /** Where deliveries go: an `http:` or `https:` URL without user info. */
  url: string;
  /** Signing secrets, `whsec_` + base64 of 24–64 bytes. Every secret signs every delivery (rotation). */
  secrets: string[];
  /** Default `"POST"`. */
  method?: "POST" | "PUT" | "PATCH";
  /** `"event"` (default) sends the event envelope; `"mapped"` sends the rule's mapping output. */
  payloadMode?: "event" | "mapped";
  /** Extra request headers. `webhook-*`, `content-type` and hop-by-hop headers cannot be set here. */
  headers?: Record<string, string>;
  /** Default `{ type: "none" }`. */
  auth?: WebhookAuth;
}

/**
 * Resolves a host name to every address it has, like `dns.promises.lookup(host, { all: true })`.
 * Injectable so tests never touch real DNS.
 */
export type LookupFunction = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

/** Options of the `webhook()` factory. */
export interface WebhookOptions extends DestinationOptions {
  /**
   * Deliver to loopback, private, link-local, CGNAT and other non-public addresses. Off by
   * default (the SSRF guard); turn it on only where every connection URL is trusted.
   */
  allowPrivateNetworks?: boolean;
  /**
   * Host names or IP addresses the SSRF guard lets through even when they are, or resolve to,
   * non-public addresses, e.g. `["127.0.0.1", "localhost", "receiver.internal"]`. Exact match,
   * case-insensitive; IPv6 with or without brackets.
   */
  allowedHosts?: string[];
  /** The DNS lookup used by the SSRF guard (default `node:dns/promises` `lookup` with `all: true`). */
  lookup?: LookupFunction;
}

/** Rule metadata of `send_webhook`; every field is optional. */
export interface SendWebhookMetadata {
  /** Overrides `type` in the event envelope (default: the event name). */
  event_type?: string;
}

/**
 * The JSON body of a delivery in `payloadMode: "event"`. Keys are sent in this order.
 * `id` is the event id; the `webhook-id` header carries the delivery id.
 */
export interface WebhookEventBody {
  /** The event id, stable from the moment it was emitted. */
  id: string;
  /** The rule's `event_type` when set, else the event name; what Standard Webhooks receivers route on. */
  type: string;
  /** The event name as emitted. */
  event: string;
  workspace: string;
  resource: string | null;
  resource_id: string | null;
  payload: Record<string, unknown>;
  /** ISO 8601. */
  created_at: string;
}

/** The three Standard Webhooks headers, as sent. */
export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

/** What `signWebhook` signs. */
export interface WebhookMessage {
  /** The `webhook-id`. */
  id: string;
  /** Unix seconds, or a Date. */
  timestamp: number | Date;
  /** The exact body bytes sent. */
  body: string | Uint8Array;
}

/** Headers as a `Headers` object or a plain object such as Node's `req.headers` (any case). */
export type HeadersInput = Headers | Record<string, string | string[] | undefined>;

/** Options of `verifyWebhook`. */
export interface VerifyWebhookOptions {
  /** How far the timestamp may be from `now`, in either direction (default 300 s). */
  toleranceSec?: number;
  /** The clock, in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

/** A delivery that passed `verifyWebhook`. */
export interface VerifiedWebhook<TPayload = unknown> {
  /** The `webhook-id`: dedupe on it, retries carry the same one. */
  id: string;
  /** The `webhook-timestamp`, unix seconds. */
  timestamp: number;
  /** The body, parsed as JSON. */
  payload: TPayload;
}

/** Why `verifyWebhook` refused a request. */
export type WebhookVerificationCode =
  | "missing_headers"
  | "invalid_timestamp"
  | "timestamp_too_old"
  | "timestamp_too_new"
  | "no_matching_signature"
  | "invalid_secret"
  | "invalid_payload";

/** One delivery a receiver accepted, once per `webhook-id`. */
export interface ReceivedWebhook {
  id: string;
  /** The `webhook-timestamp` of the first accepted copy, unix seconds. */
  timestamp: number;
  method: string;
  /** Path and query the delivery was sent to. */
  path: string;
  /** The raw body. */
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  payload: unknown;
  /** True when the signature was checked and matched; null when the receiver holds no secrets. */
  verified: boolean | null;
  /** How many copies arrived (retries and duplicates are answered 200 and not recorded again). */
  received: number;
}

/** A request a receiver refused. */
export interface RejectedWebhook {
  id: string | null;
  code: WebhookVerificationCode;
  message: string;
}

/** What a webhook receiver or simulator holds. */
export interface WebhookReceiverSnapshot {
  deliveries: ReceivedWebhook[];
  rejected: RejectedWebhook[];
}

/** Options of `createWebhookReceiver`. */
export interface WebhookReceiverOptions {
  /** The connection's secrets; any one of them verifying a signature accepts the delivery. */
  secrets: string | string[];
  /** Timestamp tolerance, default 300 s. */
  toleranceSec?: number;
  /** The receiver's clock, epoch milliseconds (default `Date.now`). */
  now?: () => number;
  /** The status it answers accepted deliveries with (default 200); 410 or 500 to model a failing receiver. */
  status?: number;
  /** Called once per new `webhook-id` after verification, before answering. */
  onDelivery?: (delivery: ReceivedWebhook) => void | Promise<void>;
  /**
   * How many of the most recent deliveries and refusals it keeps, and recognises a repeated
   * `webhook-id` among (default 1,000), so a long-running receiver or sandbox does not grow
   * without bound.
   */
  keep?: number;
}

/** Options of `createWebhookSimulator`; without `secrets` it records deliveries unchecked. */
export interface WebhookSimulatorOptions extends Omit<WebhookReceiverOptions, "secrets"> {
  secrets?: string | string[];
}

/** A Standard Webhooks receiver: verifies, dedupes by `webhook-id`, records, answers. */
export interface WebhookReceiver {
  /** The Hono app; mount it under any path of your own app. */
  readonly app: Hono;
  /** A fetch handler (Bun, Deno, Cloudflare Workers, `@hono/node-server`). */
  fetch(request: Request): Promise<Response>;
  /** A `node:http` request listener: `http.createServer(receiver.listener).listen(3000)`. */
  readonly listener: (request: IncomingMessage, response: ServerResponse) => void;
  /** What it has received and refused so far. */
  snapshot(): WebhookReceiverSnapshot;
  /** Answer every later request with this status (410 to ask senders to stop, 500 to fail, 200 to recover). */
  setStatus(status: number): void;
}

/** The sandbox simulator of the webhook destination: a receiver behind the simulator `fetch`. */
export interface WebhookSimulator extends Simulator<WebhookReceiverSnapshot> {
  /** Answer every later request with this status. */
  setStatus(status: number): void;
}

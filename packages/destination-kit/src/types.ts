import type { z } from "zod";

/** How one attempt of a delivery ended; the Meshes outcome vocabulary. */
export type Outcome =
  | "delivered"
  | "rejected_client_error"
  | "rejected_server_error"
  | "rate_limited"
  | "auth_failed"
  | "timeout"
  | "network_error"
  | "mapping_error"
  | "internal_error";

/** The event as a destination sees it. */
export interface DeliveryEvent {
  id: string;
  event: string;
  resource?: string | null;
  resource_id?: string | null;
  payload: Record<string, unknown>;
  workspace: string;
  created_at: string;
}

/** Options every destination factory takes, e.g. `hubspot({ baseUrl })`. */
export interface DestinationOptions {
  /** Send requests here instead of the vendor's API (tests, proxies). */
  baseUrl?: string;
  /** The fetch used for live connections; defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
}

/** A token-bucket budget: at most `requests` per `perMs` window. */
export interface RateLimit {
  requests: number;
  perMs: number;
}

/** What a vendor's rate-limit headers said about the budget left. */
export interface RateLimitFeedback {
  limit?: number;
  remaining?: number;
  /** Epoch milliseconds at which the window resets. */
  resetAt?: number;
}

/** The connection a delivery goes through. */
export interface ConnectionInfo {
  id: string;
  workspace: string;
  type: string;
  mode: "live" | "sandbox";
}

/** The connection a sandbox simulator stands in for, with its credentials (parsed when they are valid). */
export interface SandboxConnection<TCredentials = unknown> extends ConnectionInfo {
  credentials: TCredentials;
}

/**
 * Per-connection values kept between attempts, such as a refreshed OAuth token.
 * Every string value is treated as a secret and redacted from attempt records.
 */
export interface ConnectionState {
  get<T = unknown>(key: string): T | undefined;
  set(key: string, value: unknown): void;
  /** Everything stored, so the engine can redact it. */
  entries(): Iterable<[string, unknown]>;
}

/** Notes an action wants on the attempt record (e.g. "metadata cut to 10 keys"). */
export interface ActionLogger {
  info(message: string): void;
  warn(message: string): void;
}

/** A request or response as kept on an attempt record, credentials already redacted. */
export interface HttpSummary {
  method?: string;
  url?: string;
  status?: number;
  headers: Record<string, string>;
  body?: string;
}

/** One HTTP exchange made during an attempt. */
export interface ExchangeSummary {
  request: HttpSummary;
  response?: HttpSummary;
  durationMs: number;
}

/** A response the request client handed back to the action. */
export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  data: T;
}

/** Options for one request made by an action. */
export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  query?: Record<string, string | number | boolean | undefined>;
  /** Objects and arrays are sent as JSON; strings and URLSearchParams as they are. */
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** Non-2xx statuses the action handles itself (e.g. 404 on a lookup) instead of an error. */
  accept?: number[];
  /** What the body must be: JSON (default), plain text, or nothing at all. */
  responseType?: "json" | "text" | "none";
}

/**
 * Called before each HTTP request of an attempt, and awaited: the engine uses it to take a
 * rate-limit token per request. `signal` aborts when the attempt is abandoned (engine stop).
 */
export type RequestHook = (request: { method: string; path: string; signal?: AbortSignal }) => Promise<void> | void;

/** Sends HTTP requests for an action and turns failures into typed destination errors. */
export type RequestClient = <T = any>(path: string, options?: RequestOptions) => Promise<HttpResponse<T>>;

/** What `perform` receives. */
export interface PerformContext<TMetadata = Record<string, unknown>, TCredentials = Record<string, unknown>> {
  event: DeliveryEvent;
  /** Shortcut for `event.payload`. */
  payload: Record<string, unknown>;
  /** The rule's metadata (without `action`), validated, with `{{templates}}` rendered unless the action opted out. */
  metadata: TMetadata;
  /** The rule's field mapping applied to the event, when the rule has one. */
  mapped?: Record<string, unknown>;
  credentials: TCredentials;
  request: RequestClient;
  log: ActionLogger;
  /** The same for every attempt of one delivery; send it wherever the vendor honours one. */
  idempotencyKey: string;
  /** Attempt number, starting at 1. */
  attempt: number;
  connection: ConnectionInfo;
  state: ConnectionState;
  signal: AbortSignal;
  /** The engine's clock (injectable in tests). */
  now: () => number;
}

/** What an action may return; kept on the attempt record. */
export interface ActionResult {
  /** A short human line, e.g. "contact 512 added to list 7". */
  summary?: string;
}

/** A response classifier: return an error to fail the exchange, or undefined to use the default rules. */
export type ResponseClassifier = (response: {
  status: number;
  headers: Headers;
  /** The parsed JSON body when it was JSON, else the text. */
  data: unknown;
}) => Error | undefined;

/** One action of a destination, such as HubSpot's `add_to_list`. */
export interface ActionDefinition<TMetadataSchema extends z.ZodType = z.ZodType, TCredentials = any> {
  description: string;
  /** The rule's metadata fields other than `action`. */
  metadata: TMetadataSchema;
  /**
   * Render `{{path}}` templates in string metadata before `perform` (default true).
   * Turn it off to render them yourself, e.g. with escaping.
   */
  renderTemplates?: boolean;
  /** An extra budget per key, e.g. Slack's one message per second per channel. */
  rateLimit?: RateLimit & { key: (metadata: z.output<TMetadataSchema>) => string };
  perform(context: PerformContext<z.output<TMetadataSchema>, TCredentials>): Promise<ActionResult | void>;
}

/** An in-memory model of a vendor API that answers through `fetch`, so adapter code runs unchanged. */
export interface Simulator<TSnapshot = unknown> {
  /** Vendor this simulates. */
  readonly type: string;
  /** Answers the requests the live API would answer. */
  fetch: typeof fetch;
  /** The requests the simulator saw, oldest first: the most recent ones (see `keepRequests`, default 1,000). */
  readonly requests: SimulatedRequest[];
  /** How many requests the simulator has answered, including those `requests` no longer holds. */
  requestCount(): number;
  /** Make the next matching requests fail, e.g. `{ status: 429, headers: { "retry-after": "1" }, times: 1 }`. */
  inject(fault: SimulatorFault): void;
  /** What the simulator holds now (contacts, tags, messages, …), as plain data. */
  snapshot(): TSnapshot;
}

/** A request as recorded by a simulator. */
export interface SimulatedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** A failure a simulator answers with instead of the normal response. */
export interface SimulatorFault {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answer (a hanging server); the request ends only when aborted. */
  hang?: boolean;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Only requests this predicate accepts (default: all). */
  match?: (request: SimulatedRequest) => boolean;
}

/** A destination: what an engine needs to deliver to one vendor. */
export interface DestinationDefinition<
  TCredentialsSchema extends z.ZodType = z.ZodType<any>,
  TActions extends Record<string, ActionDefinition<any, z.output<TCredentialsSchema>>> = Record<
    string,
    ActionDefinition<any, any>
  >,
> {
  /** The connection `type`, e.g. `"hubspot"`. */
  type: string;
  name: string;
  credentials: TCredentialsSchema;
  /** The vendor API's base URL; a function when it depends on the credentials (region, account URL). */
  baseUrl: string | ((credentials: z.output<TCredentialsSchema>) => string);
  /** Headers sent with every request (auth goes here); may read refreshed tokens from `state`. */
  headers?: (credentials: z.output<TCredentialsSchema>, state: ConnectionState) => Record<string, string>;
  /** Default budget per connection. */
  rateLimit?: RateLimit;
  /** Default number of deliveries in flight per connection. */
  concurrency?: number;
  /** Default timeout per request, ms (default 10 s). */
  timeoutMs?: number;
  /** Vendor rule for responses that hide errors (e.g. Slack's HTTP 200 `{ ok: false }`). */
  classify?: ResponseClassifier;
  /** Read the vendor's rate-limit headers. */
  rateLimitHeaders?: (headers: Headers) => RateLimitFeedback | undefined;
  actions: TActions;
  /**
   * A fresh in-memory simulator of the vendor's API for one `mode: "sandbox"` connection. The
   * engine passes that connection, credentials included, so a simulator can check what the real
   * API would (a webhook receiver verifies signatures with the connection's secret).
   */
  sandbox: (connection?: SandboxConnection<z.output<TCredentialsSchema>>) => Simulator;
  /**
   * The credential values that are secrets, redacted from attempt records (default: every string
   * in the credentials). Narrow it when credentials also hold plain settings, such as a method or
   * a mode, whose values would otherwise be masked wherever they appear.
   */
  redactCredentials?: (credentials: z.output<TCredentialsSchema>) => unknown;
  /** Factory options (base URL and fetch overrides). */
  options?: DestinationOptions;
}

/** A destination as built by `defineDestination`. */
export type Destination<
  TCredentialsSchema extends z.ZodType = z.ZodType<any>,
  TActions extends Record<string, ActionDefinition<any, any>> = Record<string, ActionDefinition<any, any>>,
> = Readonly<DestinationDefinition<TCredentialsSchema, TActions>> & { readonly kind: "meshwork.destination" };

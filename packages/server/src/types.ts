import type { Destination, DestinationOptions } from "@meshwork/destination-kit";
import type { Engine, EngineOptions, MeshworkConfig, MeshworkConfigInput, Store } from "@meshwork/rules";
import type { Hono } from "hono";
import type { Logger, LoggerOptions } from "pino";

/** A token-bucket budget: at most `requests` per `perMs` window, bursts up to `requests`. */
export interface RateLimitOptions {
  requests: number;
  perMs: number;
}

/** CORS for the ingestion endpoints (browsers send events with a publishable key). */
export interface CorsOptions {
  /** Allowed origins: `"*"` (default) or a list such as `["https://app.example.com"]`. */
  origin?: string | string[];
  /** How long browsers may cache a preflight answer, seconds. Default 600. */
  maxAge?: number;
}

/** Options of the built-in destination factories, by connection type (e.g. a proxy `baseUrl`). */
export interface BuiltInDestinationOptions {
  hubspot?: DestinationOptions & { portalTimeZone?: string };
  activecampaign?: DestinationOptions;
  intercom?: DestinationOptions;
  slack?: DestinationOptions;
  /** `allowPrivateNetworks` / `allowedHosts` open the SSRF guard for trusted receivers. */
  webhook?: DestinationOptions & { allowPrivateNetworks?: boolean; allowedHosts?: string[] };
}

/** Engine settings the server passes through (retry schedule, breaker, concurrency, clock…). */
export type ServerEngineOptions = Omit<EngineOptions, "config" | "destinations" | "store" | "logger">;

/** Options of `createServer`. */
export interface ServerOptions {
  /** The Meshwork configuration: workspaces, connections, rules and `accessKeys` for the management API. */
  config: MeshworkConfig | MeshworkConfigInput;
  /**
   * Destinations added to the built-in ones (hubspot, activecampaign, intercom, slack, webhook);
   * one with the type of a built-in replaces it.
   */
  destinations?: readonly Destination[];
  /** Options of the built-in destination factories. */
  destinationOptions?: BuiltInDestinationOptions;
  /** Set false to register only `destinations`. Default true. */
  builtInDestinations?: boolean;
  /** The engine's store. Default: `sqliteStore({ path: db })` when `db` is set, else `memoryStore()`. */
  store?: Store;
  /**
   * A SQLite file for events, deliveries and attempts. The Idempotency-Key cache goes in a file of
   * its own beside it, `<db>-idempotency` (`meshwork.db-idempotency`).
   */
  db?: string;
  /**
   * Where replayable answers to requests with an `Idempotency-Key` are kept. Default: the SQLite
   * file `<db>-idempotency` when `db` is a file, else memory. `false` ignores the header.
   */
  idempotency?: IdempotencyStore | false;
  /** How long an `Idempotency-Key` is honoured, ms. Default 24 h. */
  idempotencyTtlMs?: number;
  /** Engine settings (retry schedule, breaker, concurrency, clock…). */
  engine?: ServerEngineOptions;
  /** CORS on the ingestion endpoints; `false` turns it off. Default: every origin. */
  cors?: CorsOptions | false;
  /** Largest request body accepted, bytes (413 above). Default 1 MiB. */
  maxBodyBytes?: number;
  /** Requests per publishable key on the ingestion endpoints (429 above). Default 1000 per second; `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Requests per access key on the management API (429 above). Default 100 per second; `false` turns it off. */
  managementRateLimit?: RateLimitOptions | false;
  /**
   * A cap on the backlog: while this many deliveries are open (not yet finished, in memory or
   * waiting in the store), ingest answers 503 `backlogged` with `Retry-After` instead of taking
   * more; clients retry 503. Memory does not need it: on SQLite the engine keeps at most
   * `engine.maxOpenInMemory` open deliveries in memory and the rest in the database. Default
   * off (`false`).
   */
  maxOpenDeliveries?: number | false;
  /** A pino logger, pino options, or `false` for silence. Default: JSON logs at `info` on stdout, credentials redacted. */
  logger?: Logger | LoggerOptions | false;
  /** Serve `GET /metrics`. Default true. */
  metrics?: boolean;
  /**
   * Serve the dashboard at `/` (and its read endpoints under `/api/v1/dashboard`). Default true;
   * `dir` points at another build of it (default: `dist/dashboard` of this package).
   */
  dashboard?: boolean | DashboardOptions;
  /** How long `close()` lets deliveries in flight finish before they are parked, ms. Default 10 000. */
  shutdownTimeoutMs?: number;
  /** Allowed clock skew when checking management tokens, seconds. Default 5. */
  clockToleranceSec?: number;
}

/** Where the dashboard's built files are. */
export interface DashboardOptions {
  /** A folder holding `index.html` and `_dashboard/` (what `vite build` writes). */
  dir?: string;
}

/** Where to listen. */
export interface ListenOptions {
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
}

/** Where the server listens. */
export interface ListenInfo {
  port: number;
  host: string;
  url: string;
}

/** A running (or ready to run) Meshwork endpoint; see `createServer`. */
export interface MeshworkServer {
  /** The Hono app: `app.request("/api/v1/events", init)` answers in-process, no socket needed. */
  readonly app: Hono;
  /** The app's fetch handler, for any runtime that serves `fetch` handlers. */
  readonly fetch: (request: Request) => Promise<Response>;
  /** The rules engine behind the endpoint. */
  readonly engine: Engine;
  /** The Prometheus registry behind `GET /metrics`. */
  readonly metrics: { contentType: string; text(): Promise<string> };
  /** Starts the engine (resuming open deliveries) and opens the idempotency store. Idempotent. */
  start(): Promise<void>;
  /** Starts (when needed) and listens on a TCP port. */
  listen(options?: ListenOptions): Promise<ListenInfo>;
  /**
   * Drains and stops: `/readyz` and new ingest answer 503, requests in progress finish, the
   * listener closes, deliveries in flight finish or are parked (`shutdownTimeoutMs`), every write
   * is committed and the stores are closed. Idempotent.
   */
  close(): Promise<void>;
  /** True from the moment `close()` was called. */
  readonly draining: boolean;
}

/** What a config file (`meshwork.config.ts` or `.json`) exports by default, besides a bare config. */
export interface ConfigModule {
  config: MeshworkConfig | MeshworkConfigInput;
  /** Added to the built-in destinations; one with a built-in's type replaces it. Not available in JSON. */
  destinations?: readonly Destination[];
  destinationOptions?: BuiltInDestinationOptions;
  /** Server settings; command-line flags win. */
  server?: ConfigFileServerOptions;
}

/** The server settings a config file may carry. */
export interface ConfigFileServerOptions {
  port?: number;
  host?: string;
  db?: string;
  cors?: CorsOptions | false;
  maxBodyBytes?: number;
  rateLimit?: RateLimitOptions | false;
  managementRateLimit?: RateLimitOptions | false;
  maxOpenDeliveries?: number | false;
  idempotencyTtlMs?: number;
  shutdownTimeoutMs?: number;
  metrics?: boolean;
  dashboard?: boolean;
  logLevel?: string;
  engine?: ServerEngineOptions;
}

/** A config file, loaded and normalized by `loadConfigFile`. */
export interface LoadedConfigFile extends ConfigModule {
  /** The absolute path it was read from. */
  path: string;
}

/** A stored answer to a request that carried an `Idempotency-Key`. */
export interface IdempotencyRecord {
  workspace: string;
  key: string;
  /** SHA-256 of the request body: the same key with another body is refused (422). */
  fingerprint: string;
  status: number;
  /** The JSON body that was sent. */
  body: string;
  /** Epoch ms. */
  createdAt: number;
}

/**
 * Where the server keeps answers to requests with an `Idempotency-Key`, per workspace and key.
 * Every method is async so a networked store (Postgres) can implement it.
 */
export interface IdempotencyStore {
  readonly name: string;
  open(): Promise<void>;
  close(): Promise<void>;
  /** The record for this workspace and key created at or after `notBefore` (epoch ms), if any. */
  get(workspace: string, key: string, notBefore: number): Promise<IdempotencyRecord | undefined>;
  /** Stores a record unless one with the same workspace and key exists (the first answer wins). */
  put(record: IdempotencyRecord): Promise<void>;
  /** Deletes records created before `before` (epoch ms); answers how many. */
  purge(before: number): Promise<number>;
}

/** Options of `mintManagementToken`. */
export interface ManagementTokenOptions {
  accessKey: string;
  secretKey: string;
  /** Lifetime, seconds (1–60). Default 30, as the Meshes clients sign. */
  expiresInSeconds?: number;
  /** Meshes' organization id claim; Meshwork accepts and ignores it. */
  org?: string;
  /** Issue time, epoch ms. Default now. */
  now?: number;
}

/** Options of `createManagementClient`. */
export interface ManagementClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8787`. */
  url: string;
  accessKey: string;
  secretKey: string;
  fetch?: typeof globalThis.fetch;
}

/** A small client of the management API; every call mints a fresh token. */
export interface ManagementClient {
  /** Sends a request to a path under `/api/v1` and answers the parsed JSON; a non-2xx answer throws a `MeshworkServerError` carrying `status`. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

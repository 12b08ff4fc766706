import { DestinationError, MappingError, PermanentError, RateLimitedError } from "./errors.js";
import { createRedactor, stringLeaves } from "./redact.js";
import { createRequestClient } from "./request.js";
import { renderTemplates } from "./template.js";
import type {
  ConnectionInfo,
  ConnectionState,
  DeliveryEvent,
  Destination,
  ExchangeSummary,
  Outcome,
  RateLimitFeedback,
  RequestHook,
} from "./types.js";

const DEFAULT_TIMEOUT_MS = 10_000;
const MESSAGE_LIMIT = 500;

/** One attempt to run, as the engine describes it. */
export interface RunActionInput {
  destination: Destination;
  action: string;
  credentials: unknown;
  /** The rule's metadata without `action`, templates not yet rendered. */
  metadata: Record<string, unknown>;
  event: DeliveryEvent;
  mapped?: Record<string, unknown>;
  idempotencyKey: string;
  connection: ConnectionInfo;
  attempt?: number;
  state?: ConnectionState;
  /** Overrides the destination's fetch, e.g. with a sandbox simulator's. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
  timeoutMs?: number;
  now?: () => number;
  onRateLimit?: (feedback: RateLimitFeedback) => void;
  /** Awaited before each HTTP request of the attempt (the engine's per-request rate limit). */
  beforeRequest?: RequestHook;
}

/** What happened in one attempt: the record the engine stores, credentials redacted. */
export interface AttemptResult {
  outcome: Outcome;
  retryable: boolean;
  message: string;
  /** HTTP status of the last response, when there was one. */
  status?: number;
  retryAfterMs?: number;
  /** The vendor said to stop sending to this connection. */
  disableConnection?: boolean;
  startedAt: number;
  durationMs: number;
  exchanges: ExchangeSummary[];
  notes: string[];
}

/**
 * Runs one attempt of an action and classifies how it ended. Never throws: every failure,
 * including an adapter's own bug, becomes an outcome with a message, and no credential or
 * connection-state secret survives into the result.
 */
export async function runAction(input: RunActionInput): Promise<AttemptResult> {
  const now = input.now ?? Date.now;
  const startedAt = now();
  const exchanges: ExchangeSummary[] = [];
  const notes: string[] = [];
  const state = input.state ?? createMemoryState();
  const checked = checkCredentials(input);
  const known = stringLeaves(stateValues(state));
  const redact = known.length ? createRedactor([...checked.secrets, ...known]) : (checked.redact ??= createRedactor(checked.secrets));
  const finish = (fields: Omit<AttemptResult, "startedAt" | "durationMs" | "exchanges" | "notes">): AttemptResult => {
    // Secrets learnt during the attempt (a refreshed token) are redacted too. Most attempts
    // learn none, so the common path allocates nothing beyond the result.
    const learnt = stringLeaves(stateValues(state));
    const late = learnt.length ? createRedactor(learnt) : undefined;
    const clean = late ? (text: string) => late(redact(text)) : redact;
    const scrub = (text?: string) => (text === undefined || !late ? text : late(text));
    const result = fields as AttemptResult;
    result.message = clean(fields.message).slice(0, MESSAGE_LIMIT);
    const lastStatus = exchanges.length ? exchanges[exchanges.length - 1]!.response?.status : undefined;
    if (fields.status === undefined && lastStatus !== undefined) result.status = lastStatus;
    result.startedAt = startedAt;
    result.durationMs = now() - startedAt;
    result.exchanges = late
      ? exchanges.map((e) => ({
          ...e,
          request: { ...e.request, url: scrub(e.request.url), body: scrub(e.request.body) },
          ...(e.response && { response: { ...e.response, body: scrub(e.response.body) } }),
        }))
      : exchanges;
    result.notes = notes.length ? notes.map(clean) : notes;
    return result;
  };

  const { destination } = input;
  const action = destination.actions[input.action];
  if (!action) {
    const known = Object.keys(destination.actions).join(", ");
    return finish({
      outcome: "mapping_error",
      retryable: false,
      message: `"${input.action}" is not an action of ${destination.type} (${known})`,
    });
  }

  try {
    const credentials = checked.parsed;
    if (!credentials.success) {
      const issue = credentials.error.issues[0];
      throw new PermanentError(
        `connection credentials are invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
      );
    }
    const raw = action.renderTemplates === false ? input.metadata : renderTemplates(input.metadata, input.event.payload);
    const metadata = action.metadata.safeParse(raw);
    if (!metadata.success) {
      const issue = metadata.error.issues[0];
      throw new MappingError(
        `metadata.${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"} (after rendering templates)`,
      );
    }
    const options = destination.options ?? {};
    const baseUrl =
      options.baseUrl ??
      (typeof destination.baseUrl === "function" ? destination.baseUrl(credentials.data) : destination.baseUrl);
    // Optional fields are set even when undefined: a conditional spread per field made each
    // attempt build and copy throwaway objects.
    const request = createRequestClient({
      baseUrl,
      fetch: input.fetch ?? options.fetch ?? globalThis.fetch,
      headers: destination.headers?.(credentials.data, state) ?? {},
      timeoutMs: input.timeoutMs ?? destination.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      signal: input.signal,
      classify: destination.classify,
      rateLimitHeaders: destination.rateLimitHeaders,
      onRateLimit: input.onRateLimit,
      beforeRequest: input.beforeRequest,
      record: (exchange) => exchanges.push(exchange),
      redact,
      now,
    });
    const result = await action.perform({
      event: input.event,
      payload: input.event.payload,
      metadata: metadata.data,
      mapped: input.mapped,
      credentials: credentials.data,
      request,
      log: { info: (m) => notes.push(m), warn: (m) => notes.push(`warning: ${m}`) },
      idempotencyKey: input.idempotencyKey,
      attempt: input.attempt ?? 1,
      connection: input.connection,
      state,
      signal: input.signal ?? new AbortController().signal,
      now,
    });
    return finish({ outcome: "delivered", retryable: false, message: result?.summary ?? "delivered" });
  } catch (error) {
    if (DestinationError.isInstance(error)) {
      return finish({
        outcome: error.code,
        retryable: error.retryable,
        message: error.message,
        ...(error.status !== undefined && { status: error.status }),
        ...(error instanceof RateLimitedError && error.retryAfterMs !== undefined && { retryAfterMs: error.retryAfterMs }),
        ...((error as PermanentError).disableConnection && { disableConnection: true }),
      });
    }
    const name = error instanceof Error ? error.name : typeof error;
    const message = error instanceof Error ? error.message : String(error);
    return finish({
      outcome: "internal_error",
      retryable: true,
      message: `${destination.type}.${input.action} threw ${name}: ${message}`,
    });
  }
}

/** A `ConnectionState` kept in a Map, for tests and single attempts. */
export function createMemoryState(initial: Record<string, unknown> = {}): ConnectionState {
  const values = new Map(Object.entries(initial));
  return {
    get: <T>(key: string) => values.get(key) as T | undefined,
    set: (key, value) => void values.set(key, value),
    entries: () => values.entries(),
  };
}

interface CheckedCredentials {
  parsed: ReturnType<Destination["credentials"]["safeParse"]>;
  /** The destination's chosen secrets when the credentials are valid; otherwise every string, to be safe. */
  secrets: string[];
  /** Redacts `secrets`, made on first use. */
  redact?: (text: string) => string;
}

/**
 * Credentials checked once per credentials object and destination: the engine passes a
 * connection's same object to every attempt, and parsing it each time cost more than some
 * simulated requests.
 */
const checkedCredentials = new WeakMap<object, Map<Destination, CheckedCredentials>>();

function checkCredentials({ destination, credentials }: RunActionInput): CheckedCredentials {
  const byDestination = typeof credentials === "object" && credentials !== null ? checkedCredentials.get(credentials) : undefined;
  const known = byDestination?.get(destination);
  if (known) return known;
  const parsed = destination.credentials.safeParse(credentials);
  const secrets =
    parsed.success && destination.redactCredentials
      ? stringLeaves(destination.redactCredentials(parsed.data))
      : stringLeaves(credentials);
  const checked = { parsed, secrets };
  if (typeof credentials === "object" && credentials !== null) {
    if (byDestination) byDestination.set(destination, checked);
    else checkedCredentials.set(credentials, new Map([[destination, checked]]));
  }
  return checked;
}

function stateValues(state: ConnectionState): unknown[] {
  const values: unknown[] = [];
  for (const entry of state.entries()) values.push(entry[1]);
  return values;
}

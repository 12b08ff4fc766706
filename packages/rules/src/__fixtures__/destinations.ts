// Small destinations for the engine's tests, declared with the public destination-kit API
// (the pattern of destination-kit's own acme fixture). The simulator is a plain fetch handler
// passed to createSimulator, so fault injection (`simulator.inject`) works as for real adapters.
import { z } from "zod";
import {
  createSimulator,
  defineAction,
  defineDestination,
  parseStandardRateLimitHeaders,
  PermanentError,
  type DestinationOptions,
  type SimulatorOptions,
} from "@meshwork/destination-kit";

export const ACME_TOKEN = "acme-secret-token";

export interface AcmeNote {
  contact: string;
  text: string;
  idempotencyKey: string | null;
  at: number;
}

export interface AcmeSnapshot {
  notes: AcmeNote[];
  /** Most requests the simulator was answering at the same time. */
  maxInFlight: number;
  contacts: Record<string, Record<string, unknown>>;
  messages: Array<{ channel: string; text: string; at: number }>;
}

type Handler = (request: Request) => Promise<Response> | Response;

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** Options of the fixture simulator. */
export interface AcmeSimulatorOptions {
  /** Clock used to timestamp what the simulator receives (the engine's clock in tests). */
  now?: () => number;
  /** Answer after this long (real time), like a slow API. */
  delayMs?: number;
  /** Called for every request the simulator handles (e.g. to log it to a file). */
  onRequest?: (request: { method: string; path: string; idempotencyKey: string | null; body: string }) => void;
  /** Send `x-ratelimit-*` headers claiming this many requests remain (0 makes the engine pause). */
  remaining?: () => number | undefined;
  /** Bearer tokens accepted (default: ACME_TOKEN). */
  tokens?: string[];
}

export function createAcmeSimulator(options: AcmeSimulatorOptions = {}) {
  const now = options.now ?? Date.now;
  const state: AcmeSnapshot = { notes: [], maxInFlight: 0, contacts: {}, messages: [] };
  const tokens = new Set((options.tokens ?? [ACME_TOKEN]).map((t) => `Bearer ${t}`));
  let inFlight = 0;
  const handler: Handler = async (request) => {
    inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, inFlight);
    try {
      return await answer(request);
    } finally {
      inFlight--;
    }
  };
  const answer: Handler = async (request) => {
    if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    const url = new URL(request.url);
    const body = request.method === "GET" ? "" : await request.text();
    const idempotencyKey = request.headers.get("idempotency-key");
    options.onRequest?.({ method: request.method, path: url.pathname, idempotencyKey, body });
    if (!tokens.has(request.headers.get("authorization") ?? "")) return json({ message: "bad token" }, 401);
    const remaining = options.remaining?.();
    const headers: Record<string, string> =
      remaining === undefined ? {} : { "x-ratelimit-limit": "100", "x-ratelimit-remaining": String(remaining), "x-ratelimit-reset": String(Math.ceil((now() + 2000) / 1000)) };
    const data = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    if (request.method === "POST" && url.pathname === "/v1/notes") {
      state.notes.push({ contact: String(data.contact), text: String(data.text), idempotencyKey, at: now() });
      return json({ id: state.notes.length }, 201, headers);
    }
    if (request.method === "PUT" && url.pathname.startsWith("/v1/contacts/")) {
      const email = decodeURIComponent(url.pathname.slice("/v1/contacts/".length));
      state.contacts[email] = { ...state.contacts[email], ...data };
      return json({ email }, 200, headers);
    }
    if (request.method === "POST" && url.pathname === "/v1/messages") {
      state.messages.push({ channel: String(data.channel), text: String(data.text), at: now() });
      return json({ ok: true }, 200, headers);
    }
    return json({ message: `no route ${request.method} ${url.pathname}` }, 404);
  };
  return createSimulator<AcmeSnapshot>({
    type: "acme",
    app: { fetch: handler } as unknown as SimulatorOptions<AcmeSnapshot>["app"],
    snapshot: () => state,
  });
}

/** Never resolves: an action stuck without making a request. */
const forever = () => new Promise<never>(() => {});

export const acme = (options: DestinationOptions & { simulator?: AcmeSimulatorOptions; concurrency?: number } = {}) =>
  defineDestination({
    type: "acme",
    name: "Acme",
    options,
    credentials: z.object({ token: z.string().min(1) }),
    baseUrl: "https://api.acme.test/v1",
    headers: (credentials) => ({ authorization: `Bearer ${credentials.token}` }),
    rateLimit: { requests: 100, perMs: 1000 },
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    rateLimitHeaders: parseStandardRateLimitHeaders,
    actions: {
      add_note: defineAction({
        description: "Add a note to the contact",
        metadata: z.object({ text: z.string(), contact: z.string().email() }),
        async perform({ metadata, request, idempotencyKey }) {
          const { data } = await request<{ id: number }>("/notes", {
            method: "POST",
            body: metadata,
            headers: { "idempotency-key": idempotencyKey },
          });
          return { summary: `note ${data.id} added` };
        },
      }),
      update_contact: defineAction({
        description: "Set the mapped fields on the contact found by payload.email (or mapped.email)",
        metadata: z.object({}),
        async perform({ payload, mapped, request, idempotencyKey }) {
          const { email, ...fields } = { email: payload.email, ...mapped };
          await request(`/contacts/${encodeURIComponent(String(email))}`, {
            method: "PUT",
            body: fields,
            headers: { "idempotency-key": idempotencyKey },
          });
          return { summary: `contact ${String(email)} updated` };
        },
      }),
      post_message: defineAction({
        description: "Post to a channel (one message per second per channel)",
        metadata: z.object({ channel: z.string().min(1), text: z.string() }),
        rateLimit: { requests: 1, perMs: 1000, key: (metadata: { channel: string }) => metadata.channel },
        async perform({ metadata, request }) {
          await request("/messages", { method: "POST", body: metadata });
        },
      }),
      explode: defineAction({
        description: "An adapter bug: throws a plain TypeError",
        metadata: z.object({}),
        async perform() {
          throw new TypeError("cannot read properties of undefined (reading 'id')");
        },
      }),
      remember: defineAction({
        description: "Counts its calls in the connection state (like a refreshed OAuth token would be kept)",
        metadata: z.object({}),
        async perform({ state }) {
          const calls = (state.get<number>("calls") ?? 0) + 1;
          state.set("calls", calls);
          return { summary: `calls=${calls}` };
        },
      }),
      gone: defineAction({
        description: "The receiver said it is gone for good (HTTP 410): stop sending",
        metadata: z.object({}),
        async perform() {
          throw new PermanentError("receiver answered 410 Gone", { status: 410, disableConnection: true });
        },
      }),
      stall: defineAction({
        description: "Never finishes and makes no request",
        metadata: z.object({}),
        async perform() {
          await forever();
        },
      }),
    },
    sandbox: () => createAcmeSimulator(options.simulator),
  });

/** A destination whose only action does nothing: measures the engine's own overhead. */
export const noop = (options: { concurrency?: number } = {}) =>
  defineDestination({
    type: "noop",
    name: "No-op",
    credentials: z.object({ token: z.string() }),
    baseUrl: "https://noop.test",
    concurrency: options.concurrency ?? 1000,
    actions: {
      ping: defineAction({
        description: "Does nothing",
        metadata: z.object({ note: z.string().optional() }),
        async perform() {
          return { summary: "ok" };
        },
      }),
    },
    sandbox: () => createAcmeSimulator(),
  });

/**
 * The conformance suite every Meshwork destination runs (vitest). It drives each action against
 * the destination's own sandbox simulator, checks the shared error table, and checks that no
 * credential reaches an attempt record.
 *
 * @example
 * import { testDestination } from "@meshwork/destination-kit/testing";
 * testDestination(hubspot(), {
 *   credentials: { accessToken: "pat-na1-test" },
 *   actions: { add_to_list: { metadata: { id: "7" }, payload: { email: "alex@northstar.io" } } },
 * });
 */
import { setupServer, type SetupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stringLeaves } from "./redact.js";
import { runAction, type AttemptResult, type RunActionInput } from "./run-action.js";
import type { ConnectionInfo, DeliveryEvent, Destination, Simulator } from "./types.js";

/** The event adapter tests run with unless they say otherwise. */
export const testEvent: DeliveryEvent = {
  id: "evt_01",
  event: "page.completed",
  resource: "onboarding_sequence",
  resource_id: "workspace-setup",
  payload: { email: "alex@northstar.io", user_id: "usr_5012", sequence_step: 3 },
  workspace: "acme-prod",
  created_at: "2026-11-26T12:00:00.000Z",
};

/** What `runTestAction` takes: the attempt's inputs, with test defaults for the rest. */
export type TestActionInput = {
  credentials: unknown;
  metadata: Record<string, unknown>;
  /** Replaces the test event's payload. */
  payload?: Record<string, unknown>;
  event?: Partial<DeliveryEvent>;
  connection?: Partial<ConnectionInfo>;
} & Partial<Omit<RunActionInput, "destination" | "action" | "credentials" | "metadata" | "event" | "connection">>;

/** Runs one attempt of `action` the way the engine does, against whatever answers `fetch` (msw, a simulator). */
export function runTestAction(destination: Destination, action: string, input: TestActionInput): Promise<AttemptResult> {
  const { credentials, metadata, payload, event, connection, ...rest } = input;
  return runAction({
    destination,
    action,
    credentials,
    metadata,
    event: { ...testEvent, ...event, payload: payload ?? event?.payload ?? testEvent.payload },
    idempotencyKey: "del_01",
    connection: { id: `acme-${destination.type}`, workspace: "acme-prod", type: destination.type, mode: "live", ...connection },
    ...rest,
  });
}

/** A request as it reached the network. */
export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  /** The body parsed as JSON when it is JSON, else the text (undefined when empty). */
  body: unknown;
}

/** A request as `useMockServer` recorded it, with its URL and body also in raw form. */
export interface RecordedRequest extends SentRequest {
  /** Path exactly as sent (percent-encoding kept). */
  path: string;
  query: Record<string, string>;
  /** The body text. */
  text: string;
}

/** Reads a request as it reached the network, e.g. in an msw resolver: `sent.push(await captureRequest(request))`. */
export async function captureRequest(request: Request): Promise<SentRequest> {
  return toSent(await request.clone().text(), request);
}

function toSent(text: string, request: Request): SentRequest {
  let body: unknown = text || undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // plain text stays text
  }
  return { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body };
}

async function record(request: Request): Promise<RecordedRequest> {
  const text = await request.clone().text();
  const url = new URL(request.url);
  return { ...toSent(text, request), path: url.pathname, query: Object.fromEntries(url.searchParams), text };
}

/**
 * Starts an msw server for the test file (unhandled requests fail the test) that records every
 * request; `sent()` returns what was sent in the current test.
 */
export function useMockServer(): { server: SetupServer; sent: () => Promise<RecordedRequest[]> } {
  const server = setupServer();
  const entries: Array<Promise<RecordedRequest>> = [];
  server.events.on("request:start", ({ request }) => void entries.push(record(request)));
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => {
    server.resetHandlers();
    entries.length = 0;
  });
  afterAll(() => server.close());
  return { server, sent: () => Promise.all(entries) };
}

/** One action's happy path: rule metadata and an event that should be delivered. */
export interface ConformanceActionCase<TSimulator extends Simulator = Simulator> {
  metadata: Record<string, unknown>;
  payload?: Record<string, unknown>;
  mapped?: Record<string, unknown>;
  event?: string;
  /** Assert what the simulator holds after delivery. */
  check?: (simulator: TSimulator, result: AttemptResult) => void | Promise<void>;
}

/** What the suite needs from an adapter's test file. */
export interface ConformanceFixture<TSimulator extends Simulator = Simulator> {
  /** Credentials the simulator accepts. */
  credentials: Record<string, unknown>;
  /** One case per action; every action of the destination must be listed. */
  actions: Record<string, ConformanceActionCase<TSimulator>>;
  /** Seed a fresh simulator (lists, tags, channels) before each case. */
  seed?: (simulator: TSimulator) => void | Promise<void>;
}

const basePayload = { email: "alex@northstar.io", user_id: "usr_5012", sequence_step: 3 };

/** Registers the conformance tests for `destination` in the current vitest file. */
export function testDestination<TSimulator extends Simulator = Simulator>(
  destination: Destination,
  fixture: ConformanceFixture<TSimulator>,
): void {
  const results: AttemptResult[] = [];
  const connection = { id: "conformance", workspace: "conformance", type: destination.type, mode: "sandbox" as const };
  const sandbox = () => destination.sandbox({ ...connection, credentials: fixture.credentials });

  async function attempt(actionId: string, fault?: Parameters<Simulator["inject"]>[0], timeoutMs?: number) {
    const simulator = sandbox() as TSimulator;
    await fixture.seed?.(simulator);
    if (fault) simulator.inject(fault);
    const actionCase = fixture.actions[actionId]!;
    const event: DeliveryEvent = {
      id: `evt_conformance_${actionId}`,
      event: actionCase.event ?? "page.completed",
      resource: "onboarding_sequence",
      resource_id: "workspace-setup",
      payload: { ...basePayload, ...actionCase.payload },
      workspace: "conformance",
      created_at: "2026-11-26T12:00:00.000Z",
    };
    const result = await runAction({
      destination,
      action: actionId,
      credentials: fixture.credentials,
      metadata: actionCase.metadata,
      event,
      ...(actionCase.mapped && { mapped: actionCase.mapped }),
      idempotencyKey: `del_conformance_${actionId}`,
      connection,
      fetch: simulator.fetch,
      ...(timeoutMs !== undefined && { timeoutMs }),
    });
    results.push(result);
    return { simulator, result, actionCase };
  }

  describe(`${destination.name} conformance`, () => {
    it("declares a well-formed destination", () => {
      expect(destination.type).toMatch(/^[a-z][a-z0-9_-]*$/);
      expect(destination.rateLimit?.requests).toBeGreaterThan(0);
      const simulator = sandbox();
      expect(simulator.type).toBe(destination.type);
      expect(Object.keys(fixture.actions).sort()).toEqual(Object.keys(destination.actions).sort());
      for (const action of Object.values(destination.actions)) expect(action.description).not.toBe("");
    });

    for (const actionId of Object.keys(destination.actions)) {
      describe(actionId, () => {
        it("delivers against the sandbox simulator", async () => {
          const { simulator, result, actionCase } = await attempt(actionId);
          expect(result.message).toBeTypeOf("string");
          expect(result, result.message).toMatchObject({ outcome: "delivered" });
          expect(simulator.requests.length).toBeGreaterThan(0);
          await actionCase.check?.(simulator, result);
        });

        it("401 → auth_failed, not retried", async () => {
          const { result } = await attempt(actionId, { status: 401, body: { message: "unauthorized" } });
          expect(result).toMatchObject({ outcome: "auth_failed", retryable: false });
        });

        it("429 with Retry-After → rate_limited, retried after the given delay", async () => {
          const { result } = await attempt(actionId, { status: 429, headers: { "retry-after": "7" } });
          expect(result).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 7000 });
        });

        it("5xx → retried", async () => {
          const { result } = await attempt(actionId, { status: 503, body: { message: "unavailable" } });
          expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true });
        });

        it("other 4xx → rejected_client_error, not retried", async () => {
          const { result } = await attempt(actionId, { status: 400, body: { message: "bad request" } });
          expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
        });

        it("a hanging server → timeout, retried", async () => {
          const { result } = await attempt(actionId, { hang: true }, 50);
          expect(result).toMatchObject({ outcome: "timeout", retryable: true });
        });
      });
    }

    it("keeps every credential out of every attempt record", () => {
      expect(results.length).toBeGreaterThan(0);
      const recorded = JSON.stringify(results);
      for (const secret of stringLeaves(fixture.credentials).filter((s) => s.length >= 4)) {
        expect(recorded).not.toContain(secret);
        expect(recorded).not.toContain(encodeURIComponent(secret));
      }
    });
  });
}

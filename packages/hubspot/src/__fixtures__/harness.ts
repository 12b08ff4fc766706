// Test helpers: an msw server that records every request, and runAction with HubSpot defaults.
import { createMemoryState, runAction, type AttemptResult, type ConnectionState, type Destination } from "@meshwork/destination-kit";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll } from "vitest";
import { hubspot } from "../index.js";

export const API = "https://api.hubapi.com";
export const PRIVATE_APP_TOKEN = "pat-na1-0b6f3a52-9d8e-4c1b-a7f2-5e4d3c2b1a09";

/** A request as it left the adapter. */
export interface SentRequest {
  method: string;
  /** Path exactly as sent (percent-encoding kept). */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

/** Starts an msw server for the file (unhandled requests fail) and records what was sent. */
export function useMockServer() {
  const server = setupServer();
  const entries: Array<Promise<SentRequest>> = [];
  server.events.on("request:start", ({ request }) => {
    const copy = request.clone();
    const url = new URL(copy.url);
    entries.push(
      copy.text().then((body) => ({
        method: copy.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(copy.headers),
        body,
      })),
    );
  });
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => {
    server.resetHandlers();
    entries.length = 0;
  });
  afterAll(() => server.close());
  return { server, sent: () => Promise.all(entries) };
}

/** Runs one attempt of a HubSpot action against whatever msw answers. */
export function run(
  action: string,
  input: {
    metadata: Record<string, unknown>;
    payload?: Record<string, unknown>;
    mapped?: Record<string, unknown>;
    credentials?: Record<string, unknown>;
    state?: ConnectionState;
    destination?: Destination;
    connection?: string;
  },
): Promise<AttemptResult> {
  return runAction({
    destination: input.destination ?? hubspot(),
    action,
    credentials: input.credentials ?? { accessToken: PRIVATE_APP_TOKEN },
    metadata: input.metadata,
    event: {
      id: "evt_01",
      event: "page.completed",
      resource: "onboarding_sequence",
      resource_id: "workspace-setup",
      payload: input.payload ?? { email: "alex@northstar.io", user_id: "usr_5012", sequence_step: 3 },
      workspace: "acme-prod",
      created_at: "2026-11-26T12:00:00.000Z",
    },
    ...(input.mapped && { mapped: input.mapped }),
    idempotencyKey: "del_01",
    connection: { id: input.connection ?? "acme-hubspot", workspace: "acme-prod", type: "hubspot", mode: "live" },
    state: input.state ?? createMemoryState(),
  });
}

// Test helpers: an msw server that records every request, and runAction with ActiveCampaign defaults.
import { readFileSync } from "node:fs";
import { runAction, type AttemptResult } from "@meshwork/destination-kit";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll } from "vitest";
import { activecampaign } from "../index.js";

export const API = "https://northstar.api-us1.com/api/3";
export const API_KEY = "4f7c2b9e1d0a8f6e5c3b2a1908f7e6d5c4b3a2910f8e7d6c5b4a39281f0e9d8c7b6a5f4e";
export const credentials = { api_url: "https://northstar.api-us1.com", api_key: API_KEY };
export const loginPage = readFileSync(new URL("./login-page.html", import.meta.url), "utf8");

/** A request as it left the adapter. */
export interface SentRequest {
  method: string;
  url: string;
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
        url: copy.url,
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

/** Runs one attempt of an ActiveCampaign action against whatever msw answers. */
export function run(
  action: string,
  input: {
    metadata: Record<string, unknown>;
    payload?: Record<string, unknown>;
    mapped?: Record<string, unknown>;
    credentials?: Record<string, unknown>;
  },
): Promise<AttemptResult> {
  return runAction({
    destination: activecampaign(),
    action,
    credentials: input.credentials ?? credentials,
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
    connection: { id: "acme-ac", workspace: "acme-prod", type: "activecampaign", mode: "live" },
  });
}

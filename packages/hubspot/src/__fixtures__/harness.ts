// Test helpers: the kit's recording msw server, and runTestAction with HubSpot defaults.
import type { AttemptResult, ConnectionState, Destination } from "@meshwork/destination-kit";
import { createMemoryState } from "@meshwork/destination-kit";
import { runTestAction } from "@meshwork/destination-kit/testing";
import { hubspot } from "../index.js";

export { useMockServer, type RecordedRequest as SentRequest } from "@meshwork/destination-kit/testing";

export const API = "https://api.hubapi.com";
export const PRIVATE_APP_TOKEN = "pat-na1-0b6f3a52-9d8e-4c1b-a7f2-5e4d3c2b1a09";

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
  return runTestAction(input.destination ?? hubspot(), action, {
    credentials: input.credentials ?? { accessToken: PRIVATE_APP_TOKEN },
    metadata: input.metadata,
    ...(input.payload && { payload: input.payload }),
    ...(input.mapped && { mapped: input.mapped }),
    connection: { id: input.connection ?? "acme-hubspot", type: "hubspot" },
    state: input.state ?? createMemoryState(),
  });
}

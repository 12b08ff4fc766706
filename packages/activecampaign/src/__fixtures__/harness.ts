// Test helpers: the kit's recording msw server, and runTestAction with ActiveCampaign defaults.
import { readFileSync } from "node:fs";
import type { AttemptResult } from "@meshwork/destination-kit";
import { runTestAction } from "@meshwork/destination-kit/testing";
import { activecampaign } from "../index.js";

export { useMockServer, type RecordedRequest as SentRequest } from "@meshwork/destination-kit/testing";

export const API = "https://northstar.api-us1.com/api/3";
export const API_KEY = "4f7c2b9e1d0a8f6e5c3b2a1908f7e6d5c4b3a2910f8e7d6c5b4a39281f0e9d8c7b6a5f4e";
export const credentials = { api_url: "https://northstar.api-us1.com", api_key: API_KEY };
export const loginPage = readFileSync(new URL("./login-page.html", import.meta.url), "utf8");

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
  return runTestAction(activecampaign(), action, {
    credentials: input.credentials ?? credentials,
    metadata: input.metadata,
    ...(input.payload && { payload: input.payload }),
    ...(input.mapped && { mapped: input.mapped }),
    connection: { id: "acme-ac" },
  });
}

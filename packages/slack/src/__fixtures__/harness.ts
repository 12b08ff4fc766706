// Test helpers: run one action like the engine does and capture what reached the (msw) network.
import { runAction, type AttemptResult, type Destination, type RunActionInput } from "@meshwork/destination-kit";

/** A request as it reached the network. */
export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** Collects requests inside msw resolvers: `sent.push(await capture(request))`. */
export async function capture(request: Request): Promise<SentRequest> {
  const text = await request.clone().text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // plain text stays text
  }
  return { method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body };
}

export const baseEvent = {
  id: "evt_01JD7Q3M6N2X4R8T0V5W9Y1Z3A",
  event: "page.completed",
  resource: "onboarding_sequence",
  resource_id: "workspace-setup",
  payload: { email: "alex@northstar.io", user_id: "usr_5012", sequence_step: 3 } as Record<string, unknown>,
  workspace: "acme-prod",
  created_at: "2026-11-26T12:00:00.000Z",
};

/** Runs one attempt of `action` with live-mode defaults. */
export function run(
  destination: Destination,
  action: string,
  input: {
    credentials: unknown;
    metadata: Record<string, unknown>;
    payload?: Record<string, unknown>;
    event?: Partial<typeof baseEvent>;
  } & Partial<Omit<RunActionInput, "destination" | "action" | "credentials" | "metadata" | "event">>,
): Promise<AttemptResult> {
  const { credentials, metadata, payload, event, ...rest } = input;
  return runAction({
    destination,
    action,
    credentials,
    metadata,
    event: { ...baseEvent, ...event, payload: payload ?? baseEvent.payload },
    idempotencyKey: "del_01JD7Q3M6N2X4R8T0V5W9Y1Z3B",
    connection: { id: "acme-slack", workspace: "acme-prod", type: destination.type, mode: "live" },
    ...rest,
  });
}

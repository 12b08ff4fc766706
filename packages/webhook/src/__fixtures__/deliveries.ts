// Shared inputs for the webhook tests: the published Standard Webhooks test vector, a second
// secret for rotation, one event, and a runAction wrapper with a fixed clock.
import { runAction, type DeliveryEvent, type RunActionInput } from "@meshwork/destination-kit";
import { webhook } from "../index.js";
import type { LookupFunction, WebhookOptions } from "../types.js";

/** The Standard Webhooks specification's test vector. */
export const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
} as const;

/** A second, unrelated secret (32 bytes) for rotation tests. */
export const SECRET_B = `whsec_${Buffer.alloc(32, 0x5a).toString("base64")}`;

/** 2026-11-26T12:00:00Z, in ms. */
export const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

export const event: DeliveryEvent = {
  id: "evt_01JDQ8Z7W3",
  event: "user.signup",
  resource: "account",
  resource_id: "acct_42",
  payload: { email: "alex@northstar.io", plan: "pro", seats: 3 },
  workspace: "acme-prod",
  created_at: "2026-11-26T11:59:58.000Z",
};

/** Resolves every name to one public address; no real DNS in tests. */
export const publicLookup: LookupFunction = async () => [{ address: "93.184.216.34", family: 4 }];

/** Runs one live `send_webhook` attempt at `NOW` unless told otherwise. */
export function deliver(
  credentials: Record<string, unknown>,
  overrides: Partial<RunActionInput> & { options?: WebhookOptions } = {},
) {
  const { options, ...input } = overrides;
  return runAction({
    destination: webhook({ lookup: publicLookup, ...options }),
    action: "send_webhook",
    credentials,
    metadata: {},
    event,
    idempotencyKey: "del_7f3a9c",
    connection: { id: "acme-webhook", workspace: "acme-prod", type: "webhook", mode: "live" },
    now: () => NOW,
    ...input,
  });
}

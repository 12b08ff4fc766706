import type { Destination, Simulator } from "@meshwork/destination-kit";
import { describe, expectTypeOf, it } from "vitest";
import {
  createWebhookReceiver,
  createWebhookSimulator,
  verifyWebhook,
  webhook,
  WebhookVerificationError,
  type WebhookCredentials,
  type WebhookReceiverSnapshot,
  type webhookCredentials,
} from "./index.js";

describe("@meshwork/webhook types", () => {
  it("webhook() is a destination whose credentials parse to WebhookCredentials with defaults filled", () => {
    const destination = webhook({ allowedHosts: ["127.0.0.1"], allowPrivateNetworks: false });
    expectTypeOf(destination).toExtend<Destination<typeof webhookCredentials>>();
    type Parsed = ReturnType<typeof destination.credentials.parse>;
    expectTypeOf<Parsed["method"]>().toEqualTypeOf<"POST" | "PUT" | "PATCH">();
    expectTypeOf<Parsed>().toExtend<WebhookCredentials>();
  });

  it("verifyWebhook returns the payload type asked for", () => {
    const verified = verifyWebhook<{ type: string }>("whsec_x", "{}", new Headers());
    expectTypeOf(verified.payload).toEqualTypeOf<{ type: string }>();
    expectTypeOf(verified.id).toBeString();
    expectTypeOf(verified.timestamp).toBeNumber();
  });

  it("errors narrow by code", () => {
    const error: unknown = undefined;
    if (WebhookVerificationError.isInstance(error)) {
      expectTypeOf(error.code).toEqualTypeOf<
        | "missing_headers"
        | "invalid_timestamp"
        | "timestamp_too_old"
        | "timestamp_too_new"
        | "no_matching_signature"
        | "invalid_secret"
        | "invalid_payload"
      >();
    }
  });

  it("the simulator is a Simulator of the receiver snapshot; the receiver needs secrets", () => {
    expectTypeOf(createWebhookSimulator()).toExtend<Simulator<WebhookReceiverSnapshot>>();
    expectTypeOf(createWebhookReceiver).parameter(0).toHaveProperty("secrets").toEqualTypeOf<string | string[]>();
  });
});

import { describe, expect, it } from "vitest";
import { SECRET_B, VECTOR } from "./__fixtures__/deliveries.js";
import { createWebhookSecret, signWebhook, verifyWebhook, WebhookError, WebhookVerificationError } from "./index.js";

const vectorHeaders = {
  "webhook-id": VECTOR.id,
  "webhook-timestamp": String(VECTOR.timestamp),
  "webhook-signature": VECTOR.signature,
};
const atVector = (offsetSec = 0) => ({ now: () => (VECTOR.timestamp + offsetSec) * 1000 });

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    expect(WebhookVerificationError.isInstance(error)).toBe(true);
    expect(error).toBeInstanceOf(WebhookError);
    expect((error as WebhookVerificationError).retryable).toBe(false);
    return (error as WebhookVerificationError).code;
  }
  return undefined;
}

describe("verifyWebhook", () => {
  it("verifies the published test vector at a fixed clock and returns id, timestamp and the parsed body", () => {
    expect(verifyWebhook(VECTOR.secret, VECTOR.body, vectorHeaders, atVector())).toEqual({
      id: VECTOR.id,
      timestamp: VECTOR.timestamp,
      payload: { test: 2432232314 },
    });
  });

  it("reads headers case-insensitively from a plain object, and from a Headers object", () => {
    const shouting = {
      "Webhook-Id": VECTOR.id,
      "WEBHOOK-TIMESTAMP": String(VECTOR.timestamp),
      "webhook-Signature": VECTOR.signature,
    };
    expect(verifyWebhook(VECTOR.secret, VECTOR.body, shouting, atVector()).id).toBe(VECTOR.id);
    expect(verifyWebhook(VECTOR.secret, VECTOR.body, new Headers(shouting), atVector()).id).toBe(VECTOR.id);
  });

  it("accepts Node-style array header values and the body as bytes", () => {
    const nodeHeaders = { ...vectorHeaders, "webhook-signature": ["v1,bm90LXRoaXMtb25l", VECTOR.signature] };
    const bytes = new TextEncoder().encode(VECTOR.body);
    expect(verifyWebhook(VECTOR.secret, bytes, nodeHeaders, atVector()).payload).toEqual({ test: 2432232314 });
  });

  it("accepts any one valid signature among several, and any one of several secrets", () => {
    const several = `v1a,c29tZXRoaW5nIGVsc2U= v1,${Buffer.alloc(32).toString("base64")} ${VECTOR.signature}`;
    const headers = { ...vectorHeaders, "webhook-signature": several };
    expect(verifyWebhook(VECTOR.secret, VECTOR.body, headers, atVector()).id).toBe(VECTOR.id);
    expect(verifyWebhook([SECRET_B, VECTOR.secret], VECTOR.body, vectorHeaders, atVector()).id).toBe(VECTOR.id);
  });

  it.each([
    ["webhook-id", "missing header: webhook-id"],
    ["webhook-timestamp", "missing header: webhook-timestamp"],
    ["webhook-signature", "missing header: webhook-signature"],
  ])("missing_headers when %s is absent", (name, message) => {
    const headers: Record<string, string> = { ...vectorHeaders };
    delete headers[name];
    expect(codeOf(() => verifyWebhook(VECTOR.secret, VECTOR.body, headers, atVector()))).toBe("missing_headers");
    expect(() => verifyWebhook(VECTOR.secret, VECTOR.body, headers, atVector())).toThrow(message);
    expect(() => verifyWebhook(VECTOR.secret, VECTOR.body, {}, atVector())).toThrow(
      "missing headers: webhook-id, webhook-timestamp, webhook-signature",
    );
  });

  it.each(["soon", "1614265330.5", "-1614265330", "", "1e9"])("invalid_timestamp for %j", (timestamp) => {
    const headers = { ...vectorHeaders, "webhook-timestamp": timestamp };
    const expected = timestamp === "" ? "missing_headers" : "invalid_timestamp";
    expect(codeOf(() => verifyWebhook(VECTOR.secret, VECTOR.body, headers, atVector()))).toBe(expected);
  });

  it("enforces the tolerance in both directions, inclusive at the edge (default 300 s)", () => {
    const verify = (offsetSec: number, toleranceSec?: number) =>
      codeOf(() =>
        verifyWebhook(VECTOR.secret, VECTOR.body, vectorHeaders, {
          ...atVector(offsetSec),
          ...(toleranceSec !== undefined && { toleranceSec }),
        }),
      );
    expect(verify(300)).toBeUndefined();
    expect(verify(-300)).toBeUndefined();
    expect(verify(301)).toBe("timestamp_too_old");
    expect(verify(-301)).toBe("timestamp_too_new");
    expect(verify(61, 60)).toBe("timestamp_too_old");
    expect(verify(-61, 60)).toBe("timestamp_too_new");
    expect(() => verifyWebhook(VECTOR.secret, VECTOR.body, vectorHeaders, atVector(3600))).toThrow(
      "webhook-timestamp is 3600 s old, more than the 300 s tolerance",
    );
  });

  it("no_matching_signature for a wrong secret, a changed body, a changed id, or no v1 entry", () => {
    const verify = (secret: string, body: string, headers: Record<string, string>) =>
      codeOf(() => verifyWebhook(secret, body, headers, atVector()));
    expect(verify(createWebhookSecret(), VECTOR.body, vectorHeaders)).toBe("no_matching_signature");
    expect(verify(VECTOR.secret, '{"test":2432232314}', vectorHeaders)).toBe("no_matching_signature");
    expect(verify(VECTOR.secret, VECTOR.body, { ...vectorHeaders, "webhook-id": "msg_other" })).toBe("no_matching_signature");
    expect(verify(VECTOR.secret, VECTOR.body, { ...vectorHeaders, "webhook-signature": VECTOR.signature.replace("v1,", "v2,") })).toBe(
      "no_matching_signature",
    );
    expect(verify(VECTOR.secret, VECTOR.body, { ...vectorHeaders, "webhook-signature": "v1,short" })).toBe("no_matching_signature");
  });

  it("invalid_secret for a malformed secret or none at all, checked before the request", () => {
    expect(codeOf(() => verifyWebhook("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", VECTOR.body, {}, atVector()))).toBe("invalid_secret");
    expect(codeOf(() => verifyWebhook([], VECTOR.body, vectorHeaders, atVector()))).toBe("invalid_secret");
  });

  it("invalid_payload when the signature matches a body that is not JSON", () => {
    const body = "plain text";
    const headers = { ...vectorHeaders, "webhook-signature": signWebhook(VECTOR.secret, { id: VECTOR.id, timestamp: VECTOR.timestamp, body }) };
    expect(codeOf(() => verifyWebhook(VECTOR.secret, body, headers, atVector()))).toBe("invalid_payload");
  });

  it("uses the real clock by default", () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"ok":true}';
    const headers = { "webhook-id": "msg_now", "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(SECRET_B, { id: "msg_now", timestamp, body }) };
    expect(verifyWebhook(SECRET_B, body, headers).payload).toEqual({ ok: true });
    expect(codeOf(() => verifyWebhook(VECTOR.secret, VECTOR.body, vectorHeaders))).toBe("timestamp_too_old");
  });
});

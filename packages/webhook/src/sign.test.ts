import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { SECRET_B, VECTOR } from "./__fixtures__/deliveries.js";
import { createWebhookSecret, signWebhook, verifyWebhook, WebhookError } from "./index.js";

describe("signWebhook", () => {
  it("reproduces the published Standard Webhooks test vector", () => {
    const signature = signWebhook(VECTOR.secret, { id: VECTOR.id, timestamp: VECTOR.timestamp, body: VECTOR.body });
    expect(signature).toBe(VECTOR.signature);
  });

  it("signs the same bytes given as a string, as bytes, or with the timestamp as a Date", () => {
    const bytes = new TextEncoder().encode(VECTOR.body);
    expect(signWebhook(VECTOR.secret, { id: VECTOR.id, timestamp: new Date(VECTOR.timestamp * 1000), body: bytes })).toBe(
      VECTOR.signature,
    );
  });

  it("emits one space-separated v1 entry per secret, in order", () => {
    const signature = signWebhook([VECTOR.secret, SECRET_B], { id: VECTOR.id, timestamp: VECTOR.timestamp, body: VECTOR.body });
    const entries = signature.split(" ");
    expect(entries).toHaveLength(2);
    expect(entries[0]).toBe(VECTOR.signature);
    expect(entries[1]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(entries[1]).toBe(signWebhook(SECRET_B, { id: VECTOR.id, timestamp: VECTOR.timestamp, body: VECTOR.body }));
  });

  it("changes when any signed part changes", () => {
    const base = { id: VECTOR.id, timestamp: VECTOR.timestamp, body: VECTOR.body };
    const signature = signWebhook(VECTOR.secret, base);
    expect(signWebhook(VECTOR.secret, { ...base, id: "msg_other" })).not.toBe(signature);
    expect(signWebhook(VECTOR.secret, { ...base, timestamp: VECTOR.timestamp + 1 })).not.toBe(signature);
    expect(signWebhook(VECTOR.secret, { ...base, body: '{"test":2432232314}' })).not.toBe(signature);
  });

  it.each([
    ["no prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", /start with "whsec_"/],
    ["base64url alphabet", `whsec_${Buffer.alloc(32, 0xfb).toString("base64url")}`, /base64url/],
    ["not base64", "whsec_not*base64!", /followed by base64/],
    ["too short (16 bytes)", `whsec_${Buffer.alloc(16, 1).toString("base64")}`, /24–64 bytes \(this one is 16\)/],
    ["too long (65 bytes)", `whsec_${Buffer.alloc(65, 1).toString("base64")}`, /this one is 65/],
  ])("refuses a malformed secret: %s, without echoing it", (_name, secret, message) => {
    const attempt = () => signWebhook(secret, { id: "msg_1", timestamp: 1, body: "{}" });
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect(WebhookError.isInstance(error) && error.code).toBe("invalid_secret");
      expect((error as Error).message).not.toContain(secret.slice(6));
    }
  });

  it("accepts the 24 and 64 byte bounds", () => {
    for (const size of [24, 64]) {
      const secret = `whsec_${Buffer.alloc(size, 9).toString("base64")}`;
      expect(signWebhook(secret, { id: "msg_1", timestamp: 1, body: "{}" })).toMatch(/^v1,/);
    }
  });
});

describe("interoperability with the standardwebhooks package (an independent implementation)", () => {
  const message = { id: "del_7f3a9c", body: JSON.stringify({ id: "evt_1", type: "user.signup", payload: { email: "alex@northstar.io" } }) };

  it("verifies what signWebhook produces, with each secret of a rotation on its own", () => {
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = signWebhook([VECTOR.secret, SECRET_B], { ...message, timestamp });
    const headers = { "webhook-id": message.id, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
    expect(new Webhook(VECTOR.secret).verify(message.body, headers)).toEqual(JSON.parse(message.body));
    expect(new Webhook(SECRET_B).verify(message.body, headers)).toEqual(JSON.parse(message.body));
    expect(() => new Webhook(createWebhookSecret()).verify(message.body, headers)).toThrow();
  });

  it("produces the same signature as standardwebhooks' own sign", () => {
    const date = new Date(VECTOR.timestamp * 1000);
    expect(new Webhook(VECTOR.secret).sign(VECTOR.id, date, VECTOR.body)).toBe(VECTOR.signature);
    expect(new Webhook(SECRET_B).sign(message.id, date, message.body)).toBe(
      signWebhook(SECRET_B, { ...message, timestamp: date }),
    );
  });

  it("verifyWebhook accepts what standardwebhooks signs", () => {
    const date = new Date();
    const signature = new Webhook(SECRET_B).sign(message.id, date, message.body);
    const verified = verifyWebhook(SECRET_B, message.body, {
      "webhook-id": message.id,
      "webhook-timestamp": String(Math.floor(date.getTime() / 1000)),
      "webhook-signature": signature,
    });
    expect(verified.payload).toEqual(JSON.parse(message.body));
  });
});

describe("createWebhookSecret", () => {
  it("makes a whsec_ secret of 32 random bytes by default, usable for signing", () => {
    const secret = createWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), "base64")).toHaveLength(32);
    expect(createWebhookSecret()).not.toBe(secret);
    expect(new Webhook(secret).sign("msg_1", new Date(0), "{}")).toBe(signWebhook(secret, { id: "msg_1", timestamp: 0, body: "{}" }));
  });

  it("refuses sizes outside 24–64 bytes", () => {
    expect(() => createWebhookSecret(16)).toThrow(/24–64/);
    expect(createWebhookSecret(24)).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  });
});

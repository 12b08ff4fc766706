import { runAction } from "@meshwork/destination-kit";
import { describe, expect, it } from "vitest";
import { event, NOW, SECRET_B, VECTOR } from "./__fixtures__/deliveries.js";
import { createWebhookReceiver, createWebhookSimulator, signWebhook, webhook } from "./index.js";

const nowSec = NOW / 1000;

function signed(id: string, body: string, options: { secret?: string; timestamp?: number; path?: string; method?: string } = {}) {
  const timestamp = options.timestamp ?? nowSec;
  return new Request(`https://receiver.test${options.path ?? "/hooks"}`, {
    method: options.method ?? "POST",
    headers: {
      "content-type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signWebhook(options.secret ?? VECTOR.secret, { id, timestamp, body }),
    },
    body,
  });
}

describe("createWebhookReceiver", () => {
  it("verifies, records and answers 200", async () => {
    const receiver = createWebhookReceiver({ secrets: [SECRET_B, VECTOR.secret], now: () => NOW });
    const response = await receiver.fetch(signed("msg_1", '{"hello":"world"}', { path: "/in?x=1", method: "PUT" }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
    expect(receiver.snapshot()).toEqual({
      deliveries: [
        { id: "msg_1", timestamp: nowSec, method: "PUT", path: "/in?x=1", body: '{"hello":"world"}', payload: { hello: "world" }, verified: true, received: 1 },
      ],
      rejected: [],
    });
  });

  it("dedupes by webhook-id: a retry is answered 200 and counted, not recorded again", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret, now: () => NOW });
    await receiver.fetch(signed("msg_1", "{}"));
    const again = await receiver.fetch(signed("msg_1", "{}", { timestamp: nowSec + 5 }));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    await receiver.fetch(signed("msg_2", "{}"));
    const { deliveries } = receiver.snapshot();
    expect(deliveries.map((d) => [d.id, d.received, d.timestamp])).toEqual([
      ["msg_1", 2, nowSec],
      ["msg_2", 1, nowSec],
    ]);
  });

  it("keeps the most recent deliveries and refusals (keep), and dedupes among those", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret, now: () => NOW, keep: 10 });
    for (let n = 1; n <= 25; n++) await receiver.fetch(signed(`msg_${n}`, "{}"));
    for (let n = 1; n <= 25; n++) await receiver.fetch(signed(`forged_${n}`, "{}", { secret: SECRET_B }));
    const again = await receiver.fetch(signed("msg_25", "{}"));
    expect(await again.json()).toEqual({ received: true, duplicate: true });
    const { deliveries, rejected } = receiver.snapshot();
    expect(deliveries.length).toBeGreaterThanOrEqual(10);
    expect(deliveries.length).toBeLessThanOrEqual(11);
    expect(deliveries.at(-1)).toMatchObject({ id: "msg_25", received: 2 });
    expect(rejected.length).toBeLessThanOrEqual(11);
    expect(rejected.at(-1)?.id).toBe("forged_25");
    // An id it no longer holds is a new delivery again.
    await receiver.fetch(signed("msg_1", "{}"));
    expect(receiver.snapshot().deliveries.at(-1)).toMatchObject({ id: "msg_1", received: 1 });
  });

  it("refuses a wrong signature with 401 and a bad request with 400, and forgeries do not poison dedupe", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret, now: () => NOW });
    const forged = await receiver.fetch(signed("msg_1", '{"evil":true}', { secret: SECRET_B }));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: "no_matching_signature" });
    const stale = await receiver.fetch(signed("msg_1", "{}", { timestamp: nowSec - 301 }));
    expect(stale.status).toBe(400);
    const bare = await receiver.fetch(new Request("https://receiver.test/hooks", { method: "POST", body: "{}" }));
    expect(bare.status).toBe(400);

    const genuine = await receiver.fetch(signed("msg_1", '{"good":true}'));
    expect(await genuine.json()).toEqual({ received: true });
    const snapshot = receiver.snapshot();
    expect(snapshot.deliveries).toEqual([expect.objectContaining({ id: "msg_1", payload: { good: true }, received: 1 })]);
    expect(snapshot.rejected.map((r) => [r.id, r.code])).toEqual([
      ["msg_1", "no_matching_signature"],
      ["msg_1", "timestamp_too_old"],
      [null, "missing_headers"],
    ]);
  });

  it("answers a configured status (410, 500) without recording, until told otherwise", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret, now: () => NOW, status: 410 });
    expect((await receiver.fetch(signed("msg_1", "{}"))).status).toBe(410);
    receiver.setStatus(500);
    expect((await receiver.fetch(signed("msg_1", "{}"))).status).toBe(500);
    receiver.setStatus(204);
    const ok = await receiver.fetch(signed("msg_1", "{}"));
    expect(ok.status).toBe(204);
    expect(receiver.snapshot().deliveries).toEqual([expect.objectContaining({ id: "msg_1", received: 1 })]);
  });

  it("answers 500 and forgets the delivery when onDelivery throws, so the retry is processed", async () => {
    let calls = 0;
    const receiver = createWebhookReceiver({
      secrets: VECTOR.secret,
      now: () => NOW,
      onDelivery: () => {
        calls += 1;
        if (calls === 1) throw new Error("database unavailable");
      },
    });
    const first = await receiver.fetch(signed("msg_1", "{}"));
    expect(first.status).toBe(500);
    expect(receiver.snapshot().deliveries).toEqual([]);
    expect((await receiver.fetch(signed("msg_1", "{}"))).status).toBe(200);
    expect(calls).toBe(2);
    expect(receiver.snapshot().deliveries).toHaveLength(1);
  });

  it("refuses a malformed secret when created", () => {
    expect(() => createWebhookReceiver({ secrets: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" })).toThrow('a secret must start with "whsec_"');
    expect(() => createWebhookSimulator({ secrets: [VECTOR.secret, `whsec_${Buffer.alloc(16).toString("base64")}`] })).toThrow("24–64 bytes");
  });

  it("answers other methods 405", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret });
    expect((await receiver.fetch(new Request("https://receiver.test/hooks"))).status).toBe(405);
  });
});

describe("createWebhookSimulator", () => {
  const sandbox = { id: "acme-webhook", workspace: "acme-prod", type: "webhook", mode: "sandbox" as const };
  const attempt = (simulator: { fetch: typeof fetch }, secrets: string[], idempotencyKey = "del_1") =>
    runAction({
      destination: webhook(),
      action: "send_webhook",
      credentials: { url: "https://hooks.northstar.io/in", secrets },
      metadata: {},
      event,
      idempotencyKey,
      connection: sandbox,
      fetch: simulator.fetch,
      now: () => NOW,
    });

  it("receives the adapter's deliveries, verified with its secrets", async () => {
    const simulator = createWebhookSimulator({ secrets: [VECTOR.secret], now: () => NOW });
    expect(simulator.type).toBe("webhook");
    expect((await attempt(simulator, [SECRET_B, VECTOR.secret])).outcome).toBe("delivered");
    expect((await attempt(simulator, [SECRET_B, VECTOR.secret])).outcome).toBe("delivered");
    expect(simulator.requests).toHaveLength(2);
    expect(simulator.snapshot().deliveries).toEqual([
      expect.objectContaining({ id: "del_1", verified: true, received: 2, payload: expect.objectContaining({ id: event.id }) }),
    ]);
  });

  it("turns a secret the receiver does not hold into auth_failed", async () => {
    const simulator = createWebhookSimulator({ secrets: [VECTOR.secret], now: () => NOW });
    const result = await attempt(simulator, [SECRET_B]);
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false, status: 401 });
    expect(simulator.snapshot().rejected).toEqual([expect.objectContaining({ code: "no_matching_signature" })]);
  });

  it("models a receiver that is gone (410) or failing (500)", async () => {
    const simulator = createWebhookSimulator({ secrets: [VECTOR.secret], now: () => NOW });
    simulator.setStatus(410);
    expect(await attempt(simulator, [VECTOR.secret])).toMatchObject({ outcome: "rejected_client_error", disableConnection: true });
    simulator.setStatus(500);
    expect(await attempt(simulator, [VECTOR.secret])).toMatchObject({ outcome: "rejected_server_error", retryable: true });
    simulator.setStatus(200);
    expect(await attempt(simulator, [VECTOR.secret])).toMatchObject({ outcome: "delivered" });
    expect(simulator.snapshot().deliveries).toHaveLength(1);
  });

  it("without secrets, records deliveries as unchecked and still requires the headers", async () => {
    const simulator = createWebhookSimulator();
    expect((await attempt(simulator, [VECTOR.secret])).outcome).toBe("delivered");
    expect(simulator.snapshot().deliveries[0]).toMatchObject({ id: "del_1", verified: null });
    const response = await simulator.fetch("https://hooks.northstar.io/in", { method: "POST", body: "{}" });
    expect(response.status).toBe(400);
  });

  it("takes one-off faults through inject", async () => {
    const simulator = createWebhookSimulator({ secrets: [VECTOR.secret], now: () => NOW });
    simulator.inject({ status: 503 });
    expect((await attempt(simulator, [VECTOR.secret])).outcome).toBe("rejected_server_error");
    expect((await attempt(simulator, [VECTOR.secret])).outcome).toBe("delivered");
  });
});

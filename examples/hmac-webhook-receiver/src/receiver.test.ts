import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "@meshwork/events";
import { createEngine, defineConfig } from "@meshwork/rules";
import { createWebhookSecret, signWebhook, webhook } from "@meshwork/webhook";
import { afterEach, describe, expect, it } from "vitest";
import { createReceiver, type MeshworkWebhook } from "./receiver.js";
import { createSender, PUBLISHABLE_KEY } from "./sender.js";

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function listen(secrets: string | string[]) {
  const received: Array<{ id: string; event: MeshworkWebhook }> = [];
  const server = createReceiver({ secrets, onEvent: (event, id) => void received.push({ id, event }) });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/meshwork` };
}

describe("signed webhooks over loopback HTTP", () => {
  it("delivers verified webhooks; a replay carries the same webhook-id and is processed once", async () => {
    const secret = createWebhookSecret();
    const { received, url } = await listen(secret);
    const engine = createSender({ url, secret });
    await engine.start();
    try {
      const meshwork = createClient({ publishableKey: PUBLISHABLE_KEY, engine });
      const signup = meshwork.emit({ event: "user.signup", payload: { email: "alex@northstar.io", plan: "pro" } });
      await meshwork.close();
      const { id: eventId } = await signup;
      await engine.drain();

      expect(received).toHaveLength(1);
      expect(received[0]!.event).toMatchObject({
        id: eventId,
        type: "customer.created", // the rule's event_type
        event: "user.signup",
        workspace: "acme-prod",
        payload: { email: "alex@northstar.io", plan: "pro" },
      });
      const [attempt] = await engine.attempts.list(eventId, "forward-signups");
      expect(attempt).toMatchObject({ outcome: "delivered", status: 204 });
      expect(JSON.stringify(attempt)).not.toContain(secret);

      // Replaying a completed delivery sends it again with the same webhook-id; the receiver dedupes.
      expect(await engine.replay({ workspace: "acme-prod", status: "completed" })).toEqual({ count: 1 });
      await engine.drain();
      expect(await engine.attempts.list(eventId, "forward-signups")).toHaveLength(2);
      expect(received.map((r) => r.id)).toEqual([received[0]!.id]);
    } finally {
      await engine.stop();
    }
  });

  it("refuses forged, re-signed-with-another-secret and stale requests; accepts both secrets while rotating", async () => {
    const [oldSecret, newSecret] = [createWebhookSecret(), createWebhookSecret()];
    const { received, url } = await listen([newSecret, oldSecret]);
    const body = JSON.stringify({ type: "user.signup", payload: { email: "a@b.io" } });
    const post = (id: string, secret: string, timestamp = Math.floor(Date.now() / 1000)) =>
      fetch(url, {
        method: "POST",
        body,
        headers: { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(secret, { id, timestamp, body }) },
      });

    expect((await post("msg_old", oldSecret)).status).toBe(204);
    expect((await post("msg_new", newSecret)).status).toBe(204);
    const wrong = await post("msg_wrong", createWebhookSecret());
    expect([wrong.status, await wrong.json()]).toEqual([401, { error: "no_matching_signature" }]);
    const stale = await post("msg_stale", newSecret, Math.floor(Date.now() / 1000) - 3600);
    expect([stale.status, await stale.json()]).toEqual([400, { error: "timestamp_too_old" }]);
    expect(received.map((r) => r.id)).toEqual(["msg_old", "msg_new"]);
  });

  it("without allowedHosts the SSRF guard refuses the loopback address", async () => {
    const secret = createWebhookSecret();
    const { received, url } = await listen(secret);
    const engine = createEngine({
      config: defineConfig({
        workspaces: [{ id: "w", name: "W", environment: "production", publishableKeys: ["mw_pub_w"] }],
        connections: [{ id: "hook", workspace: "w", type: "webhook", name: "Hook", mode: "live", credentials: { url, secrets: [secret] } }],
        rules: [{ id: "r", workspace: "w", connection: "hook", event: "user.signup", metadata: { action: "send_webhook" } }],
      }),
      destinations: [webhook()],
    });
    await engine.start();
    try {
      const { records } = await engine.ingest([{ event: "user.signup", payload: { email: "a@b.io" } }], { publishableKey: "mw_pub_w" });
      await engine.drain();
      const detail = await engine.events.get((records[0] as { id: string }).id);
      expect(detail?.deliveries[0]).toMatchObject({ status: "failed", last_outcome: "rejected_client_error" });
      expect(detail?.deliveries[0]?.last_error).toMatch(/127\.0\.0\.1/);
      expect(received).toEqual([]);
    } finally {
      await engine.stop();
    }
  });
});

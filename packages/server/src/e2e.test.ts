// Over a real socket: the Meshes events API spoken with plain fetch, and the @meshwork/events
// clients pointed at the server. SQLite store, as `meshwork serve` runs by default.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, EventsClient } from "@meshwork/events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEYS, startServer } from "./__fixtures__/setup.js";
import type { MeshworkServer } from "./index.js";

let server: MeshworkServer;
let url: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "meshwork-e2e-"));
  server = await startServer({ db: join(dir, "meshwork.db") });
  ({ url } = await server.listen({ port: 0, host: "127.0.0.1" }));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const headers = { "Content-Type": "application/json", Accept: "application/json", "X-Meshes-Publishable-Key": KEYS.acme };

describe("a client written to the Meshes events API (plain fetch)", () => {
  it("creates one event: 201 { event: { id, type, event, workspace, created_by, created_at, resource, resource_id } }", async () => {
    const res = await fetch(`${url}/api/v1/events`, {
      method: "POST",
      headers,
      body: JSON.stringify({ event: "page.completed", resource: "onboarding_sequence", resource_id: "workspace-setup", payload: { email: "alex@northstar.io", sequence_step: 3 } }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const { event } = (await res.json()) as { event: Record<string, unknown> };
    expect(Object.keys(event).sort()).toEqual(["created_at", "created_by", "event", "id", "resource", "resource_id", "type", "workspace"]);
    expect(event).toMatchObject({ type: "event", event: "page.completed", workspace: "acme-prod", resource: "onboarding_sequence", resource_id: "workspace-setup" });
  });

  it("sends a bulk batch with an Idempotency-Key, and a retry of it gets the same answer", async () => {
    const body = JSON.stringify([
      { event: "user.signup", payload: { email: "a@northstar.io" } },
      { event: "user.signup", payload: { email: "b@northstar.io" } },
    ]);
    const send = () => fetch(`${url}/api/v1/events/bulk`, { method: "POST", headers: { ...headers, "Idempotency-Key": "3f1c2a40-0000-7000-8000-000000000001" }, body });
    const first = await send();
    expect(first.status).toBe(201);
    const firstBody = (await first.json()) as { count: number; records: Array<{ id: string }> };
    expect(firstBody.count).toBe(2);
    const retry = await send();
    expect(retry.status).toBe(201);
    expect(await retry.json()).toEqual(firstBody);
    for (const { id } of firstBody.records) expect(await server.engine.events.get(id, { workspace: "acme-prod" })).toBeDefined();
  });

  it("gets 207 with per-record errors, and the documented failures", async () => {
    const partial = await fetch(`${url}/api/v1/events/bulk`, { method: "POST", headers, body: JSON.stringify([{ event: "user.signup", payload: {} }, { payload: {} }]) });
    expect(partial.status).toBe(207);
    expect(await partial.json()).toMatchObject({ count: 1, error_count: 1, records: [{ type: "event" }, { error: "invalid_event", message: expect.stringContaining("event") }] });
    const badKey = await fetch(`${url}/api/v1/events`, { method: "POST", headers: { ...headers, "X-Meshes-Publishable-Key": "mesh_pub_wrong000000000" }, body: "{}" });
    expect(badKey.status).toBe(401);
    expect(await badKey.json()).toMatchObject({ message: expect.any(String), error: "unauthorized" });
    const tooBig = await fetch(`${url}/api/v1/events/bulk`, { method: "POST", headers, body: JSON.stringify([{ event: "x", payload: { blob: "x".repeat(1_100_000) } }]) });
    expect(tooBig.status).toBe(413);
    expect(await tooBig.json()).toMatchObject({ error: "payload_too_large" });
  });

  it("answers a browser's preflight over the wire", async () => {
    const res = await fetch(`${url}/api/v1/events/bulk`, {
      method: "OPTIONS",
      headers: { Origin: "https://app.northstar.io", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, x-meshes-publishable-key, idempotency-key" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("@meshwork/events pointed at the server", () => {
  it("createClient({ publishableKey, endpoint }) delivers every emitted event", async () => {
    const client = createClient({ publishableKey: KEYS.acme, endpoint: url, flushAt: 20, flushIntervalMs: 10 });
    const receipts = await Promise.all(Array.from({ length: 50 }, (_, i) => client.emit({ event: "user.signup", payload: { email: `client${i}@northstar.io` } })));
    const report = await client.close({ timeoutMs: 5000 });
    expect(report).toMatchObject({ sent: 50, failed: 0, dropped: 0, pending: 0 });
    expect(new Set(receipts.map((r) => r.id)).size).toBe(50);
    await server.engine.drain({ timeoutMs: 10_000 });
    for (const receipt of receipts) {
      const stored = await server.engine.events.get(receipt.id, { workspace: "acme-prod" });
      // The webhook delivery; HubSpot's sandbox enforces HubSpot's 100 requests / 10 s, so some of those wait.
      expect(stored?.deliveries.find((d) => d.rule_id === "acme-signup-hook")?.status, JSON.stringify(stored?.deliveries)).toBe("completed");
    }
  });

  it("the Meshes drop-in EventsClient emits and emits batches", async () => {
    const client = new EventsClient(KEYS.acme, { apiBaseUrl: `${url}/api/v1` });
    const one = await client.emit({ event: "user.signup", payload: { email: "dropin@northstar.io" } });
    expect(one.event).toMatchObject({ event: "user.signup", workspace: "acme-prod" });
    const batch = await client.emitBatch([
      { event: "user.signup", payload: { email: "b1@northstar.io" } },
      { event: "deal.won", payload: { amount: 10 } },
    ]);
    expect(batch.count).toBe(2);
  });
});

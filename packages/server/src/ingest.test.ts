import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventDetail } from "@meshwork/rules";
import { afterEach, describe, expect, it } from "vitest";
import { ingestHeaders, KEYS, post, startServer } from "./__fixtures__/setup.js";
import type { MeshworkServer } from "./index.js";

let server: MeshworkServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const signup = (n: number, extra: Record<string, unknown> = {}) => ({ event: "user.signup", payload: { email: `user${n}@northstar.io`, n }, ...extra });

async function allEvents(s: MeshworkServer, workspace = "acme-prod") {
  const page = await s.engine.events.list({ workspace, limit: 500 });
  return page.records;
}

describe("POST /api/v1/events", () => {
  it("stores one event, answers 201 with the Meshes record, and delivers it to every matching rule", async () => {
    server = await startServer();
    const res = await post(server, "/api/v1/events", { ...signup(1), resource: "onboarding", resource_id: "step-1" });
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await res.json()) as { event: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(["event"]);
    expect(body.event).toEqual({
      id: expect.any(String),
      type: "event",
      event: "user.signup",
      workspace: "acme-prod",
      created_by: expect.stringMatching(/^publishable_key:/),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      resource: "onboarding",
      resource_id: "step-1",
    });
    expect(JSON.stringify(body)).not.toContain(KEYS.acme);

    await server.engine.drain({ timeoutMs: 5000 });
    const detail = (await server.engine.events.get(body.event.id as string, { workspace: "acme-prod" })) as EventDetail;
    expect(detail.payload).toEqual({ email: "user1@northstar.io", n: 1 });
    expect(detail.deliveries.map((d) => [d.rule_id, d.status]).sort()).toEqual([
      ["acme-signup-hook", "completed"],
      ["acme-signup-hubspot", "completed"],
    ]);
    // What reached the (sandboxed) destination is the event itself.
    const sent = server.engine.sandbox("acme-hook").requests;
    expect(sent).toHaveLength(1);
    expect(JSON.parse(sent[0]!.body)).toMatchObject({ id: body.event.id, event: "user.signup", payload: { email: "user1@northstar.io", n: 1 } });
  });

  it("keeps a caller's id, and a second send of that id stores nothing new (dedup)", async () => {
    server = await startServer();
    const first = await post(server, "/api/v1/events", signup(1, { id: "evt_fixed_1" }));
    const second = await post(server, "/api/v1/events", signup(1, { id: "evt_fixed_1" }));
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(await second.json()).toEqual(await first.json());
    await server.engine.drain({ timeoutMs: 5000 });
    expect(await allEvents(server)).toHaveLength(1);
    expect(server.engine.sandbox("acme-hook").requests).toHaveLength(1);
  });

  it("answers 400 naming the field for each malformed event, and stores none", async () => {
    server = await startServer();
    const cases: Array<[unknown, string, string]> = [
      ["{not json", "invalid_json", "body"],
      ["", "invalid_json", "body"],
      [[signup(1)], "invalid_request", "body"],
      ["42", "invalid_request", "body"],
      [{ payload: {} }, "invalid_event", "event"],
      [{ event: "", payload: {} }, "invalid_event", "event"],
      [{ event: "user.signup" }, "invalid_event", "payload"],
      [{ event: "user.signup", payload: [1, 2] }, "invalid_event", "payload"],
      [{ event: "user.signup", payload: {}, resource: 7 }, "invalid_event", "resource"],
      [{ event: "user.signup", payload: {}, resource_id: "" }, "invalid_event", "resource_id"],
      [{ event: "user.signup", payload: {}, id: 12 }, "invalid_event", "id"],
      [{ event: "user.signup", payload: {}, workspace: "globex-prod" }, "invalid_event", "workspace"],
      [{ event: "user.signup", payload: {}, resource: "x".repeat(300) }, "invalid_event", "resource"],
      // A lone surrogate cannot be stored as text: it would come back altered, so the id would not be found.
      [{ event: "user.signup", payload: {}, id: "evt-\ud800" }, "invalid_event", "id"],
      [{ event: "user.\udc00", payload: {} }, "invalid_event", "event"],
    ];
    for (const [body, error, field] of cases) {
      const res = await post(server, "/api/v1/events", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const answer = (await res.json()) as { message: string; error: string; field: string };
      expect(answer.error, JSON.stringify(body)).toBe(error);
      expect(answer.field, JSON.stringify(body)).toBe(field);
      expect(answer.message).toContain(field === "body" ? "" : field);
    }
    expect(await allEvents(server)).toHaveLength(0);
  });

  it("refuses payloads nested too deep with 400 instead of failing to store them", async () => {
    server = await startServer();
    let payload: Record<string, unknown> = { leaf: true };
    for (let i = 0; i < 100; i++) payload = { next: payload };
    const res = await post(server, "/api/v1/events", { event: "user.signup", payload });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: "invalid_event", field: "payload" });
  });

  it("answers 401 for a missing or unknown publishable key, before reading the body", async () => {
    server = await startServer();
    const missing = await server.app.request("/api/v1/events", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(signup(1)) });
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ error: "unauthorized", field: "X-Meshes-Publishable-Key" });
    const unknown = await post(server, "/api/v1/events", signup(1), ingestHeaders("mw_pub_nobody_000000000000"));
    expect(unknown.status).toBe(401);
    const text = await unknown.text();
    expect(text).not.toContain("mw_pub_nobody");
    expect(await allEvents(server)).toHaveLength(0);
  });

  it("answers 413 for a body over the limit, announced or streamed", async () => {
    server = await startServer({ maxBodyBytes: 2048 });
    const big = JSON.stringify({ event: "user.signup", payload: { blob: "x".repeat(4000) } });
    const announced = await server.app.request("/api/v1/events", {
      method: "POST",
      headers: { ...ingestHeaders(), "content-length": String(Buffer.byteLength(big)) },
      body: big,
    });
    expect(announced.status).toBe(413);
    expect(await announced.json()).toMatchObject({ error: "payload_too_large" });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(new TextEncoder().encode(big.slice(i * 1000, (i + 1) * 1000)));
        controller.enqueue(new TextEncoder().encode(big.slice(4000)));
        controller.close();
      },
    });
    const streamed = await server.app.request("/api/v1/events/bulk", { method: "POST", headers: ingestHeaders(), body: stream, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(await allEvents(server)).toHaveLength(0);
  });

  it("answers 429 with Retry-After once a key's budget is spent; other keys are not affected", async () => {
    server = await startServer({ rateLimit: { requests: 3, perMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await post(server, "/api/v1/events", signup(i))).status).toBe(201);
    const limited = await post(server, "/api/v1/events", signup(9));
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(20);
    expect(await limited.json()).toMatchObject({ error: "rate_limited" });
    expect((await post(server, "/api/v1/events", signup(1), ingestHeaders(KEYS.globex))).status).toBe(201);
    expect(await allEvents(server)).toHaveLength(3);
  });

  it("answers 503 with Retry-After once the server is draining", async () => {
    server = await startServer();
    await server.close();
    const res = await post(server, "/api/v1/events", signup(1));
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(await res.json()).toMatchObject({ error: "unavailable" });
    server = undefined;
  });

  it("answers 503 while too many deliveries are open (backpressure), and takes events again once they drain", async () => {
    server = await startServer({ maxOpenDeliveries: 2 });
    server.engine.sandbox("acme-hook").inject({ status: 500, times: 5 });
    server.engine.sandbox("acme-hubspot").inject({ status: 500, times: 5 });
    const first = await post(server, "/api/v1/events", signup(1));
    expect(first.status).toBe(201);
    await server.engine.drain({ timeoutMs: 5000 });
    expect(server.engine.stats().open).toBe(2); // both waiting for their retry
    await new Promise((resolve) => setTimeout(resolve, 60)); // the server reads the count every 50 ms
    const refused = await post(server, "/api/v1/events/bulk", [signup(2)]);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.json()).toMatchObject({ error: "backlogged" });
    await server.engine.events.cancel(((await first.json()) as { event: { id: string } }).event.id, { workspace: "acme-prod" });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect((await post(server, "/api/v1/events/bulk", [signup(2)])).status).toBe(201);
  });

  it("takes a backlog past the engine's window without 503 by default: on SQLite the rest waits in the database", async () => {
    const dir = mkdtempSync(join(tmpdir(), "meshwork-window-"));
    try {
      server = await startServer({ db: join(dir, "meshwork.db"), engine: { retry: { schedule: [0, 10], jitter: 0 }, attemptTimeoutMs: 200, maxOpenInMemory: 4 } });
      // The first attempts hang (until their timeout), so nothing finishes while the events come in.
      server.engine.sandbox("acme-hook").inject({ hang: true, times: 2 });
      server.engine.sandbox("acme-hubspot").inject({ hang: true, times: 2 });
      const res = await post(server, "/api/v1/events/bulk", Array.from({ length: 10 }, (_, i) => signup(i)));
      expect(res.status).toBe(201);
      expect(server.engine.stats()).toMatchObject({ open: 20, inMemory: 4, spilled: 16 });
      expect((await post(server, "/api/v1/events", signup(10))).status).toBe(201);
      const metrics = await (await server.app.request("/metrics")).text();
      expect(metrics).toContain('meshwork_queue_depth{state="spilled"} 18');
      expect(metrics).toContain("meshwork_open_deliveries 22");
      await server.engine.drain({ timeoutMs: 10_000 });
      expect(server.engine.stats().open).toBe(0);
      expect(server.engine.sandbox("acme-hook").requests).toHaveLength(13); // 11 events, 2 timed out and sent again
      const events = await allEvents(server);
      expect(events.map((e) => e.status)).toEqual(Array.from({ length: 11 }, () => "completed"));
      await server.close();
      server = undefined;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("answers unknown routes with a JSON 404", async () => {
    server = await startServer();
    const res = await server.app.request("/api/v2/nothing");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});

describe("POST /api/v1/events/bulk", () => {
  it("answers 201 { count, records } with the records in request order", async () => {
    server = await startServer();
    const res = await post(server, "/api/v1/events/bulk", [signup(1), signup(2, { id: "evt_2" }), { event: "deal.won", payload: { amount: 5 } }]);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { count: number; error_count?: number; records: Array<{ id: string; event: string }> };
    expect(body.count).toBe(3);
    expect(body.error_count).toBeUndefined();
    expect(body.records.map((r) => r.event)).toEqual(["user.signup", "user.signup", "deal.won"]);
    expect(body.records[1]!.id).toBe("evt_2");
    expect(await allEvents(server)).toHaveLength(3);
  });

  it("answers 207 with mixed records: valid ones stored, failed ones { message, error } in place", async () => {
    server = await startServer();
    const res = await post(server, "/api/v1/events/bulk", [signup(1), { event: "user.signup" }, signup(3), "nope", { event: "", payload: {} }]);
    expect(res.status).toBe(207);
    const body = (await res.json()) as { count: number; error_count: number; records: Array<Record<string, unknown>> };
    expect(body.count).toBe(2);
    expect(body.error_count).toBe(3);
    expect(body.records[0]).toMatchObject({ type: "event", event: "user.signup" });
    expect(body.records[1]).toMatchObject({ error: "invalid_event", field: "payload", message: expect.stringContaining("payload") });
    expect(body.records[2]).toMatchObject({ type: "event" });
    expect(body.records[3]).toMatchObject({ error: "invalid_event", message: expect.any(String) });
    expect(body.records[4]).toMatchObject({ error: "invalid_event", field: "event" });
    const stored = await allEvents(server);
    expect(stored.map((e) => e.id).sort()).toEqual([body.records[0]!.id, body.records[2]!.id].sort());
  });

  it("answers 400 for a body that is not an array of 1 to 100 events", async () => {
    server = await startServer();
    for (const body of [{ event: "user.signup", payload: {} }, [], Array.from({ length: 101 }, (_, i) => signup(i)), "null"]) {
      const res = await post(server, "/api/v1/events/bulk", body);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: "invalid_request", field: "body" });
    }
    const hundred = await post(server, "/api/v1/events/bulk", Array.from({ length: 100 }, (_, i) => signup(i)));
    expect(hundred.status).toBe(201);
  });
});

describe("Idempotency-Key", () => {
  const bulk = [signup(1), signup(2), { event: "user.signup" }];

  it("takes the key and the Idempotency-Key from the query string of a CORS-simple request (a page going away)", async () => {
    server = await startServer();
    const path = `/api/v1/events/bulk?publishable_key=${KEYS.acme}&idempotency_key=unload-0001`;
    const headers = { "content-type": "text/plain;charset=UTF-8", origin: "https://app.northstar.io" };
    const first = await post(server, path, [signup(1), signup(2)], headers);
    expect(first.status).toBe(201);
    const again = await post(server, path, [signup(1), signup(2)], headers);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    await server.engine.drain({ timeoutMs: 5000 });
    expect(await allEvents(server)).toHaveLength(2);
    const unknown = await post(server, "/api/v1/events/bulk?publishable_key=mw_pub_nobody", [signup(3)], headers);
    expect(unknown.status).toBe(401);
  });

  it("replays the original answer for the same key, stores nothing new and sends nothing twice", async () => {
    server = await startServer();
    const headers = ingestHeaders(KEYS.acme, { "idempotency-key": "batch-0001" });
    const first = await post(server, "/api/v1/events/bulk", bulk, headers);
    const firstBody = await first.text();
    expect(first.status).toBe(207);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    await server.engine.drain({ timeoutMs: 5000 });
    for (let i = 0; i < 3; i++) {
      const again = await post(server, "/api/v1/events/bulk", bulk, headers);
      expect(again.status).toBe(207);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      expect(await again.text()).toBe(firstBody);
    }
    await server.engine.drain({ timeoutMs: 5000 });
    expect(await allEvents(server)).toHaveLength(2);
    expect(server.engine.sandbox("acme-hook").requests).toHaveLength(2);
  });

  it("answers concurrent requests with the same key once", async () => {
    server = await startServer();
    const headers = ingestHeaders(KEYS.acme, { "idempotency-key": "batch-concurrent" });
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(server!, "/api/v1/events/bulk", [signup(1), signup(2)], headers)));
    const bodies = await Promise.all(answers.map((a) => a.text()));
    expect(answers.map((a) => a.status)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(bodies).size).toBe(1);
    expect(await allEvents(server)).toHaveLength(2);
  });

  it("refuses the same key with another body (422) and scopes keys per workspace", async () => {
    server = await startServer();
    const headers = ingestHeaders(KEYS.acme, { "idempotency-key": "batch-0002" });
    expect((await post(server, "/api/v1/events/bulk", [signup(1)], headers)).status).toBe(201);
    const reused = await post(server, "/api/v1/events/bulk", [signup(2)], headers);
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: "idempotency_key_reused", field: "Idempotency-Key" });
    const otherWorkspace = await post(server, "/api/v1/events/bulk", [signup(1)], ingestHeaders(KEYS.globex, { "idempotency-key": "batch-0002" }));
    expect(otherWorkspace.status).toBe(201);
    expect(otherWorkspace.headers.get("idempotent-replayed")).toBeNull();
    expect(await allEvents(server, "globex-prod")).toHaveLength(1);
  });

  it("honours the key on single events and refuses malformed keys", async () => {
    server = await startServer();
    const headers = ingestHeaders(KEYS.acme, { "idempotency-key": "single-1" });
    const first = await post(server, "/api/v1/events", signup(1), headers);
    const again = await post(server, "/api/v1/events", signup(1), headers);
    expect(await again.text()).toBe(await first.text());
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await allEvents(server)).toHaveLength(1);
    const bad = await post(server, "/api/v1/events", signup(1), ingestHeaders(KEYS.acme, { "idempotency-key": "x".repeat(300) }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: "Idempotency-Key" });
  });

  it("forgets a key after its time to live", async () => {
    server = await startServer({ idempotencyTtlMs: 30 });
    const headers = ingestHeaders(KEYS.acme, { "idempotency-key": "short-lived" });
    await post(server, "/api/v1/events/bulk", [signup(1)], headers);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const later = await post(server, "/api/v1/events/bulk", [signup(1)], headers);
    expect(later.headers.get("idempotent-replayed")).toBeNull();
    expect(await allEvents(server)).toHaveLength(2);
  });
});

describe("CORS", () => {
  it("answers the browser preflight of both ingest routes", async () => {
    server = await startServer();
    for (const path of ["/api/v1/events", "/api/v1/events/bulk"]) {
      const res = await server.app.request(path, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.northstar.io",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,x-meshes-publishable-key,idempotency-key",
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toContain("POST");
      const allowed = res.headers.get("access-control-allow-headers")!.toLowerCase();
      for (const h of ["content-type", "x-meshes-publishable-key", "idempotency-key"]) expect(allowed).toContain(h);
      expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    }
  });

  it("marks the answer readable cross-origin and exposes Retry-After", async () => {
    server = await startServer();
    const res = await post(server, "/api/v1/events", signup(1), ingestHeaders(KEYS.acme, { origin: "https://app.northstar.io" }));
    expect(res.status).toBe(201);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-expose-headers")!.toLowerCase()).toContain("retry-after");
  });

  it("allows only the configured origins, and never the management API", async () => {
    server = await startServer({ cors: { origin: ["https://app.northstar.io"] } });
    const preflight = (origin: string) =>
      server!.app.request("/api/v1/events/bulk", { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
    expect((await preflight("https://app.northstar.io")).headers.get("access-control-allow-origin")).toBe("https://app.northstar.io");
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
    const management = await server.app.request("/api/v1/events", { headers: { origin: "https://app.northstar.io" } });
    expect(management.status).toBe(401);
    expect(management.headers.get("access-control-allow-origin")).toBeNull();
  });
});

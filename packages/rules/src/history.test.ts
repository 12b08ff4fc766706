import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "./index.js";
import type { Delivery } from "./types.js";
import { KEY_A, acmeConnection, noteRule, pageCompleted } from "./__fixtures__/config.js";
import { T0, startEngine } from "./__fixtures__/engine.js";

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop({ timeoutMs: 100 })));
});
async function harness(...args: Parameters<typeof startEngine>) {
  const h = await startEngine(...args);
  engines.push(h.engine);
  return h;
}
const ingest = (engine: Engine, events: unknown[]) => engine.ingest(events as never, { publishableKey: KEY_A });

describe("history", () => {
  it("lists events newest first with filters and cursor pagination", async () => {
    const { engine, clock } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    for (let i = 0; i < 7; i++) {
      await ingest(engine, [pageCompleted(`p${i}`)]);
      clock.advance(1000);
    }
    await ingest(engine, [
      { id: "s1", event: "user.signup", payload: {} },
      { id: "s2", event: "user.signup", resource: "team", resource_id: "t-9", payload: {} },
    ]);
    await engine.drain({ advanceClock: true });

    const first = await engine.events.list({ workspace: "acme-prod", event: "page.completed", limit: 3 });
    expect(first).toMatchObject({ count: 3, limit: 3 });
    expect(first.records.map((e) => e.id)).toEqual(["p6", "p5", "p4"]);
    expect(first.records[0]).toMatchObject({ status: "completed", total_rules: 1, completed_count: 1, failed_count: 0 });
    expect(first.records[0]).not.toHaveProperty("payload");
    const second = await engine.events.list({ workspace: "acme-prod", event: "page.completed", limit: 3, cursor: first.next_cursor });
    expect(second.records.map((e) => e.id)).toEqual(["p3", "p2", "p1"]);
    const third = await engine.events.list({ workspace: "acme-prod", event: "page.completed", limit: 3, cursor: second.next_cursor });
    expect(third).toMatchObject({ count: 1, next_cursor: null });
    expect(third.records.map((e) => e.id)).toEqual(["p0"]);

    expect((await engine.events.list({ workspace: "acme-prod", resource: "team" })).records.map((e) => e.id)).toEqual(["s2"]);
    expect((await engine.events.list({ workspace: "acme-prod", resource_id: "t-9" })).records.map((e) => e.id)).toEqual(["s2"]);
    expect((await engine.events.list({ workspace: "acme-prod", status: "completed", event: "user.signup" })).records.map((e) => e.id)).toEqual(["s2", "s1"]);
    expect((await engine.events.list({ workspace: "acme-prod", since: T0 + 2000, until: new Date(T0 + 4000).toISOString() })).records.map((e) => e.id)).toEqual(["p3", "p2"]);
    await expect(engine.events.list({ cursor: "bogus" })).rejects.toMatchObject({ code: "invalid_cursor" });
    await expect(engine.events.list({ limit: 0 })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("shows an event with its payload and deliveries, and each delivery's attempts", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    sim("c1").inject({ status: 503, body: { message: "try later" } });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    const detail = await engine.events.get("e1");
    expect(detail).toMatchObject({
      id: "e1",
      status: "completed",
      payload: { email: "alex@northstar.io", sequence_step: 3 },
      deliveries: [{ rule_id: "r1", connection: "c1", integration_type: "acme", action: "add_note", status: "completed", attempt_count: 2, next_attempt_at: null, last_error: null, last_outcome: "delivered" }],
    });
    const attempts = await engine.attempts.list("e1", "r1");
    expect(attempts.map((a) => [a.attempt, a.outcome, a.status])).toEqual([
      [1, "rejected_server_error", 503],
      [2, "delivered", 201],
    ]);
    expect(attempts[0]!.message).toBe("POST https://api.acme.test/v1/notes answered 503: try later");
    expect(attempts[1]!.exchanges[0]!.request.body).toBe('{"text":"step 3 via r1","contact":"alex@northstar.io"}');
    await expect(engine.attempts.list("e1", "nope")).rejects.toMatchObject({ code: "not_found" });
  });
});

describe("retry, cancel, replay", () => {
  it("retries a failed delivery now with a fresh schedule and the same idempotency key", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1", "acme-prod", { retry: { schedule: [0] } })], rules: [noteRule("r1", "c1")] });
    sim("c1").inject({ status: 500 });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    expect((await engine.events.get("e1"))!.deliveries[0]).toMatchObject({ status: "failed", attempt_count: 1 });
    const retried = await engine.retry("e1", "r1");
    expect(retried.status).toMatch(/^(pending|processing)$/);
    await engine.drain({ advanceClock: true });
    const delivery = (await engine.events.get("e1"))!.deliveries[0]!;
    expect(delivery).toMatchObject({ status: "completed", attempt_count: 2 });
    expect(sim("c1").requests.map((r) => r.headers["idempotency-key"])).toEqual([delivery.idempotency_key, delivery.idempotency_key]);
    await expect(engine.retry("e1", "r1")).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("retries a delivery waiting for its next attempt right away", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    sim("c1").inject({ status: 500 });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain();
    expect((await engine.events.get("e1"))!.deliveries[0]!.status).toBe("retrying");
    await engine.retry("e1", "r1");
    await engine.drain();
    expect((await engine.events.get("e1"))!.deliveries[0]).toMatchObject({ status: "completed", attempt_count: 2 });
  });

  it("cancels a waiting delivery, and an event's open deliveries", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1"), acmeConnection("c2")], rules: [noteRule("r1", "c1"), noteRule("r2", "c2")] });
    sim("c1").inject({ status: 500, times: 10 });
    sim("c2").inject({ status: 500, times: 10 });
    await ingest(engine, [pageCompleted("e1"), pageCompleted("e2")]);
    await engine.drain();
    const seen: Delivery[] = [];
    engine.on("delivery", (d) => seen.push(d));
    expect(await engine.cancel("e1", "r1")).toMatchObject({ status: "canceled", next_attempt_at: null });
    expect(seen.map((d) => `${d.event_id}/${d.rule_id}:${d.status}`)).toEqual(["e1/r1:canceled"]);
    expect((await engine.events.cancel("e2")).map((d) => d.status)).toEqual(["canceled", "canceled"]);
    await engine.drain({ advanceClock: true });
    expect(sim("c1").requests).toHaveLength(2);
    const e1 = await engine.events.get("e1");
    expect(Object.fromEntries(e1!.deliveries.map((d) => [d.rule_id, d.status]))).toEqual({ r1: "canceled", r2: "failed" });
    expect((await engine.events.get("e2"))!.status).toBe("canceled");
    await expect(engine.cancel("e1", "r1")).rejects.toMatchObject({ code: "invalid_state" });
  });

  it("replays finished deliveries by status, connection, event, outcome and time; a dry run only counts", async () => {
    const { engine, sim, clock } = await harness({
      connections: [acmeConnection("c1", "acme-prod", { retry: { schedule: [0] } }), acmeConnection("c2", "acme-prod", { retry: { schedule: [0] } })],
      rules: [noteRule("r1", "c1"), noteRule("r2", "c2"), noteRule("s1", "c1", { event: "user.signup" })],
    });
    sim("c1").inject({ status: 401, times: 3 });
    sim("c2").inject({ status: 503, times: 2 });
    await ingest(engine, [pageCompleted("e1"), pageCompleted("e2"), { id: "u1", event: "user.signup", payload: { email: "x@y.io", sequence_step: 1 } }]);
    clock.advance(10_000);
    await ingest(engine, [pageCompleted("e3")]);
    await engine.drain({ advanceClock: true });
    // c1: e1, e2, u1 failed (401), e3 completed. c2: e1, e2 failed (503), e3 completed.
    const dry = (query: Parameters<Engine["replay"]>[0]) => engine.replay(query, { dryRun: true });
    expect(await dry({ workspace: "acme-prod" })).toEqual({ count: 5 });
    expect(await dry({ workspace: "acme-prod", status: "failed", connection: "c1" })).toEqual({ count: 3 });
    expect(await dry({ workspace: "acme-prod", event: "user.signup" })).toEqual({ count: 1 });
    expect(await dry({ workspace: "acme-prod", outcome: "auth_failed" })).toEqual({ count: 3 });
    expect(await dry({ workspace: "acme-prod", outcome: ["rejected_server_error"], rule: "r2" })).toEqual({ count: 2 });
    expect(await dry({ workspace: "acme-prod", status: "completed" })).toEqual({ count: 2 });
    expect(await dry({ workspace: "acme-prod", since: T0 + 5000 })).toEqual({ count: 0 });
    expect(await dry({ workspace: "acme-prod", until: new Date(T0 + 5000).toISOString() })).toEqual({ count: 5 });
    expect(await dry({ workspace: "beta-prod" })).toEqual({ count: 0 });
    expect(sim("c1").requests).toHaveLength(4);
    await expect(engine.replay({ workspace: "acme-prod", status: "pending" as never })).rejects.toMatchObject({ code: "invalid_request" });

    expect(await engine.replay({ workspace: "acme-prod", outcome: "auth_failed" })).toEqual({ count: 3 });
    await engine.drain({ advanceClock: true });
    expect(await dry({ workspace: "acme-prod" })).toEqual({ count: 2 });
    expect(sim("c1").requests).toHaveLength(7);
    const u1 = (await engine.events.get("u1"))!.deliveries[0]!;
    expect(u1).toMatchObject({ status: "completed", attempt_count: 2 });
  });
});

import { afterEach, describe, expect, it } from "vitest";
import { createEngine, DEFAULT_RETRY_SCHEDULE, type Engine } from "./index.js";
import type { Delivery } from "./types.js";
import { KEY_A, acmeConnection, config, noteRule, pageCompleted } from "./__fixtures__/config.js";
import { acme, type AcmeSnapshot } from "./__fixtures__/destinations.js";
import { T0, gaps, startEngine } from "./__fixtures__/engine.js";

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
const events = (n: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: n }, (_, i) => pageCompleted(`evt_${String(i).padStart(3, "0")}`, { ...extra(i) }));

describe("sandbox connections", () => {
  it("build each simulator with its own connection and parsed credentials", async () => {
    const given: unknown[] = [];
    const base = acme();
    const recording = { ...base, sandbox: (connection?: unknown) => (given.push(connection), base.sandbox()) };
    const engine = createEngine({
      config: config([acmeConnection("c1"), acmeConnection("c2", "beta-prod")], [noteRule("r1", "c1")]),
      destinations: [recording],
    });
    engines.push(engine);
    expect(given).toEqual([
      { id: "c1", workspace: "acme-prod", type: "acme", mode: "sandbox", credentials: { token: "acme-secret-token" } },
      { id: "c2", workspace: "beta-prod", type: "acme", mode: "sandbox", credentials: { token: "acme-secret-token" } },
    ]);
  });
});

describe("fan-out", () => {
  it("delivers to every matching connection in parallel; a hanging one does not hold up the others", async () => {
    const engine = createEngine({
      config: config(
        [acmeConnection("slow", "acme-prod", { timeoutMs: 400, retry: { schedule: [0, 60_000] } }), acmeConnection("fast1"), acmeConnection("fast2")],
        [noteRule("r-slow", "slow"), noteRule("r-fast1", "fast1"), noteRule("r-fast2", "fast2")],
      ),
      destinations: [acme()],
      logger: { warn: () => {}, error: () => {} },
    });
    engines.push(engine);
    await engine.start();
    engine.sandbox("slow").inject({ hang: true, times: 100 });
    const finished: Array<{ delivery: Delivery; at: number }> = [];
    const started = performance.now();
    engine.on("delivery", (delivery) => finished.push({ delivery, at: performance.now() - started }));
    await ingest(engine, events(5));
    await engine.drain({ timeoutMs: 5000 });

    const fast = finished.filter((f) => f.delivery.connection !== "slow");
    const slow = finished.filter((f) => f.delivery.connection === "slow");
    expect(fast.map((f) => f.delivery.status)).toEqual(Array(10).fill("completed"));
    expect(slow.map((f) => f.delivery.status)).toEqual(Array(5).fill("retrying"));
    // The fast connections were done long before the slow one's attempts timed out.
    expect(Math.max(...fast.map((f) => f.at))).toBeLessThan(Math.min(...slow.map((f) => f.at)));
    expect(Math.min(...slow.map((f) => f.at))).toBeGreaterThanOrEqual(380);
    const [attempt] = await engine.attempts.list("evt_000", "r-slow");
    expect(attempt).toMatchObject({ outcome: "timeout", retryable: true });
    expect(attempt!.message).toMatch(/timed out after 400 ms/);
    expect(engine.sandbox<AcmeSnapshot>("fast1").snapshot().notes).toHaveLength(5);
  });
});

describe("retries", () => {
  it("runs the default schedule (0 s, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), each delay within ±20 %", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    sim("c1").inject({ status: 503, body: { message: "unavailable" }, times: 100 });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });

    const attempts = await engine.attempts.list("e1", "r1");
    expect(attempts).toHaveLength(8);
    expect(attempts.every((a) => a.outcome === "rejected_server_error" && a.status === 503)).toBe(true);
    gaps(attempts).forEach((gap, i) => {
      const nominal = DEFAULT_RETRY_SCHEDULE[i + 1]!;
      expect(gap).toBeGreaterThanOrEqual(nominal * 0.8);
      expect(gap).toBeLessThanOrEqual(nominal * 1.2);
    });
    const detail = await engine.events.get("e1");
    expect(detail!.status).toBe("failed");
    expect(detail!.deliveries[0]).toMatchObject({ status: "failed", attempt_count: 8, next_attempt_at: null, last_outcome: "rejected_server_error" });
    expect(detail!.deliveries[0]!.last_error).toMatch(/answered 503: unavailable \(gave up after 8 attempts\)/);
    // Every attempt carried the same idempotency key.
    const keys = new Set(sim("c1").requests.map((r) => r.headers["idempotency-key"]));
    expect([...keys]).toEqual([detail!.deliveries[0]!.idempotency_key]);
  });

  it("spreads delays over exactly ±20 % (random at both ends)", async () => {
    for (const [random, factor] of [
      [() => 0, 0.8],
      [() => 1 - 1e-12, 1.2],
    ] as const) {
      const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")], random });
      sim("c1").inject({ status: 500, times: 100 });
      await ingest(engine, [pageCompleted("e1")]);
      await engine.drain({ advanceClock: true });
      const observed = gaps(await engine.attempts.list("e1", "r1"));
      observed.forEach((gap, i) => expect(Math.abs(gap - DEFAULT_RETRY_SCHEDULE[i + 1]! * factor)).toBeLessThanOrEqual(10));
    }
  });

  it("honours Retry-After instead of the schedule, up to maxRetryAfterMs", async () => {
    const { engine, sim } = await harness({
      connections: [acmeConnection("c1"), acmeConnection("c2", "acme-prod", { retry: { maxRetryAfterMs: 60_000 } })],
      rules: [noteRule("r1", "c1"), noteRule("r2", "c2")],
    });
    sim("c1").inject({ status: 429, headers: { "retry-after": "7" } });
    sim("c2").inject({ status: 429, headers: { "retry-after": "86400" } });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    const a1 = await engine.attempts.list("e1", "r1");
    expect(a1.map((a) => a.outcome)).toEqual(["rate_limited", "delivered"]);
    expect(gaps(a1)).toEqual([7000]);
    const a2 = await engine.attempts.list("e1", "r2");
    expect(a2.map((a) => a.outcome)).toEqual(["rate_limited", "delivered"]);
    expect(gaps(a2)).toEqual([60_000]);
  });

  it("fails at once on auth_failed, rejected_client_error and mapping_error", async () => {
    const { engine, sim, clock } = await harness({
      connections: [acmeConnection("c401"), acmeConnection("c400"), acmeConnection("cmap")],
      rules: [noteRule("r401", "c401"), noteRule("r400", "c400"), noteRule("rmap", "cmap", { metadata: { action: "add_note", contact: "{{manager.email}}", text: "x" } })],
    });
    sim("c401").inject({ status: 401, body: { message: "token revoked" } });
    sim("c400").inject({ status: 400, body: { message: "contact is invalid" } });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    clock.advance(48 * 3600_000);
    await engine.drain({ advanceClock: true });
    const detail = await engine.events.get("e1");
    const byRule = Object.fromEntries(detail!.deliveries.map((d) => [d.rule_id, d]));
    expect(byRule.r401).toMatchObject({ status: "failed", attempt_count: 1, last_outcome: "auth_failed" });
    expect(byRule.r400).toMatchObject({ status: "failed", attempt_count: 1, last_outcome: "rejected_client_error" });
    expect(byRule.rmap).toMatchObject({ status: "failed", attempt_count: 1, last_outcome: "mapping_error" });
    expect(byRule.rmap!.last_error).toMatch(/the payload has no value at "manager.email"/);
    expect(sim("cmap").requests).toHaveLength(0);
  });

  it("takes the schedule from the connection over the engine's", async () => {
    const { engine, sim } = await harness({
      retry: { schedule: [0, 1000], jitter: 0 },
      connections: [acmeConnection("c1", "acme-prod", { retry: { schedule: [0, 10, 20] } }), acmeConnection("c2")],
      rules: [noteRule("r1", "c1"), noteRule("r2", "c2")],
    });
    sim("c1").inject({ status: 502, times: 10 });
    sim("c2").inject({ status: 502, times: 10 });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    expect(gaps(await engine.attempts.list("e1", "r1"))).toEqual([10, 20]);
    expect(gaps(await engine.attempts.list("e1", "r2"))).toEqual([1000]);
  });
});

describe("limits", () => {
  it("keeps every window of the rate limit within budget", async () => {
    const { engine, sim, clock } = await harness({
      connections: [acmeConnection("c1", "acme-prod", { rateLimit: { requests: 5, perMs: 1000 } })],
      rules: [noteRule("r1", "c1")],
    });
    await ingest(engine, events(23));
    await engine.drain({ advanceClock: true });
    const times = sim("c1").snapshot().notes.map((n) => n.at);
    expect(times).toHaveLength(23);
    for (const start of times) expect(times.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(5);
    expect(clock.now() - T0).toBeGreaterThanOrEqual(4000);
  });

  it("never has more than `concurrency` attempts in flight per connection", async () => {
    const engine = createEngine({
      config: config([acmeConnection("c1", "acme-prod", { concurrency: 3 }), acmeConnection("c2")], [noteRule("r1", "c1"), noteRule("r2", "c2")]),
      destinations: [acme({ simulator: { delayMs: 15 } })],
    });
    engines.push(engine);
    await engine.start();
    await ingest(engine, events(20));
    await engine.drain({ timeoutMs: 5000 });
    expect(engine.sandbox<AcmeSnapshot>("c1").snapshot()).toMatchObject({ maxInFlight: 3 });
    expect(engine.sandbox<AcmeSnapshot>("c2").snapshot().maxInFlight).toBeGreaterThan(3);
    expect(engine.sandbox<AcmeSnapshot>("c1").snapshot().notes).toHaveLength(20);
  });

  it("applies an action's keyed budget per key without holding up other keys", async () => {
    const { engine, sim } = await harness({
      connections: [acmeConnection("c1")],
      rules: [noteRule("r1", "c1", { metadata: { action: "post_message", channel: "{{channel}}", text: "hi {{user_id}}" } })],
    });
    await ingest(engine, events(6, (i) => ({ channel: i < 4 ? "#sales" : "#support" })));
    await engine.drain({ advanceClock: true });
    const messages = sim("c1").snapshot().messages;
    const at = (channel: string) => messages.filter((m) => m.channel === channel).map((m) => m.at - T0);
    expect(at("#sales")).toEqual([0, 1000, 2000, 3000]);
    expect(at("#support")).toEqual([0, 1000]);
  });

  it("pauses a connection when the vendor says no requests remain", async () => {
    let remaining = 0;
    const { engine, sim } = await harness({
      connections: [acmeConnection("c1")],
      rules: [noteRule("r1", "c1")],
      simulator: { remaining: () => remaining },
    });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    remaining = 50;
    await ingest(engine, [pageCompleted("e2"), pageCompleted("e3")]);
    await engine.drain({ advanceClock: true });
    const times = sim("c1").snapshot().notes.map((n) => n.at - T0);
    // The first answer said 0 remaining until the reset (2 s ahead, rounded up to the second).
    expect(times[0]).toBe(0);
    expect(times[1]).toBeGreaterThanOrEqual(2000);
    expect(times[2]).toBe(times[1]);
  });
});

describe("circuit breaker", () => {
  it("opens after N consecutive failures, parks deliveries without spending attempts, probes once, closes", async () => {
    const { engine, sim } = await harness({
      breaker: { failureThreshold: 3, cooldownMs: 10_000 },
      connections: [acmeConnection("c1", "acme-prod", { concurrency: 1 })],
      rules: [noteRule("r1", "c1")],
      random: () => 0.5,
    });
    sim("c1").inject({ status: 503, times: 3 });
    await ingest(engine, events(10));
    await engine.drain({ advanceClock: true, until: T0 + 1000 });

    expect(sim("c1").requests).toHaveLength(3);
    expect(engine.stats().connections[0]).toMatchObject({ circuit: "open", queued: 7 });
    const parked = await engine.events.get("evt_005");
    expect(parked!.deliveries[0]).toMatchObject({ status: "pending", attempt_count: 0, next_attempt_at: new Date(T0 + 10_000).toISOString() });

    await engine.drain({ advanceClock: true });
    const requests = sim("c1").snapshot().notes.map((n) => n.at - T0);
    // One probe at the end of the cool-down, then everything else.
    expect(requests[0]).toBe(10_000);
    expect(requests).toHaveLength(10);
    expect(engine.stats().connections[0]!.circuit).toBe("closed");
    const page = await engine.events.list({ workspace: "acme-prod", limit: 100 });
    expect(page.records.every((e) => e.status === "completed")).toBe(true);
    // The three that failed before the circuit opened spent two attempts; the parked ones one.
    const counts = await Promise.all(page.records.map(async (e) => (await engine.events.get(e.id))!.deliveries[0]!.attempt_count));
    expect(counts.sort()).toEqual([1, 1, 1, 1, 1, 1, 1, 2, 2, 2]);
  });

  it("opens again with a doubled cool-down when the probe fails", async () => {
    const { engine, sim } = await harness({
      breaker: { failureThreshold: 2, cooldownMs: 10_000 },
      connections: [acmeConnection("c1", "acme-prod", { concurrency: 1, retry: { schedule: [0, 3_600_000], jitter: 0 } })],
      rules: [noteRule("r1", "c1")],
    });
    sim("c1").inject({ status: 503, times: 3 });
    await ingest(engine, events(4));
    await engine.drain({ advanceClock: true, until: T0 + 3_000_000 });
    // Failures at 0 and 0 (opens for 10 s), a probe at 10 s fails (opens for 20 s), the probe at 30 s succeeds.
    expect(sim("c1").requests).toHaveLength(4);
    const [probe] = await engine.attempts.list("evt_002", "r1");
    expect(probe).toMatchObject({ started_at: new Date(T0 + 10_000).toISOString(), outcome: "rejected_server_error" });
    expect(sim("c1").snapshot().notes.map((n) => n.at - T0)).toEqual([30_000]);
    expect(engine.stats().connections[0]!.circuit).toBe("closed");
  });
});

describe("misbehaving destinations", () => {
  it("records an adapter that throws a plain error as internal_error, retries it, and keeps running", async () => {
    const { engine } = await harness({
      connections: [acmeConnection("c1", "acme-prod", { retry: { schedule: [0, 10], jitter: 0 } }), acmeConnection("c2")],
      rules: [noteRule("boom", "c1", { metadata: { action: "explode" } }), noteRule("ok", "c2")],
    });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    const attempts = await engine.attempts.list("e1", "boom");
    expect(attempts.map((a) => a.outcome)).toEqual(["internal_error", "internal_error"]);
    expect(attempts[0]!.message).toBe("acme.explode threw TypeError: cannot read properties of undefined (reading 'id')");
    const detail = await engine.events.get("e1");
    expect(Object.fromEntries(detail!.deliveries.map((d) => [d.rule_id, d.status]))).toEqual({ boom: "failed", ok: "completed" });
    await ingest(engine, [pageCompleted("e2")]);
    await engine.drain({ advanceClock: true });
    expect((await engine.events.get("e2"))!.deliveries.find((d) => d.rule_id === "ok")!.status).toBe("completed");
  });

  it("times out an attempt that never finishes, even without a request", async () => {
    const { engine } = await harness({
      attemptTimeoutMs: 150,
      connections: [acmeConnection("c1", "acme-prod", { retry: { schedule: [0] } }), acmeConnection("c2", "acme-prod", { timeoutMs: 100, retry: { schedule: [0] } })],
      rules: [noteRule("stall", "c1", { metadata: { action: "stall" } }), noteRule("hang", "c2")],
    });
    engine.sandbox("c2").inject({ hang: true });
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true, timeoutMs: 5000 });
    const [stalled] = await engine.attempts.list("e1", "stall");
    expect(stalled).toMatchObject({ outcome: "timeout", message: "the attempt did not finish within 150 ms; its result, if any, is ignored" });
    const [hung] = await engine.attempts.list("e1", "hang");
    expect(hung).toMatchObject({ outcome: "timeout" });
    expect(hung!.message).toMatch(/POST https:\/\/api\.acme\.test\/v1\/notes timed out after 100 ms/);
    expect((await engine.events.get("e1"))!.status).toBe("failed");
  });

  it("disables a connection the destination asked to stop, and says why and since when", async () => {
    const { engine, clock } = await harness({
      connections: [acmeConnection("c1")],
      rules: [noteRule("gone", "c1", { event: "user.left", metadata: { action: "gone" } }), noteRule("note", "c1")],
    });
    await ingest(engine, [{ id: "e0", event: "user.left", payload: {} }]);
    await engine.drain({ advanceClock: true });
    const disabledAt = new Date(clock.now()).toISOString();
    clock.advance(60_000);
    await ingest(engine, [pageCompleted("e1")]);
    await engine.drain({ advanceClock: true });
    const delivery = (await engine.events.get("e1"))!.deliveries[0]!;
    expect(delivery).toMatchObject({ status: "failed", attempt_count: 1, last_outcome: "rejected_client_error" });
    expect(delivery.last_error).toBe(
      `connection "c1" is disabled since ${disabledAt}: receiver answered 410 Gone; after fixing the destination, call engine.enableConnection("c1")`,
    );
    expect(engine.sandbox("c1").requests).toHaveLength(0);
    await engine.enableConnection("c1");
    await engine.retry("e1", "note");
    await engine.drain({ advanceClock: true });
    expect((await engine.events.get("e1"))!.deliveries[0]!.status).toBe("completed");
  });

  it("keeps connection state per connection", async () => {
    const { engine } = await harness({
      connections: [acmeConnection("c1"), acmeConnection("c2")],
      rules: [noteRule("r1", "c1", { metadata: { action: "remember" } }), noteRule("r2", "c2", { metadata: { action: "remember" } })],
    });
    await ingest(engine, events(3));
    await ingest(engine, [pageCompleted("solo", {})]);
    await engine.drain({ advanceClock: true });
    const last = async (rule: string) => (await engine.attempts.list("solo", rule))[0]!.message;
    expect(await last("r1")).toBe("calls=4");
    expect(await last("r2")).toBe("calls=4");
  });
});

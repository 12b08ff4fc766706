import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createEngine, createTestClock, memoryStore, sqliteStore } from "./index.js";
import { KEY_A, acmeConnection, config, noteRule, pageCompleted } from "./__fixtures__/config.js";
import { acme, noop, type AcmeSnapshot } from "./__fixtures__/destinations.js";
import { T0 } from "./__fixtures__/engine.js";

const dir = mkdtempSync(join(tmpdir(), "meshwork-persist-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function engineOn(path: string, now: number) {
  const clock = createTestClock({ now });
  const engine = createEngine({
    config: config(
      [acmeConnection("flaky"), acmeConnection("slow", "acme-prod", { rateLimit: { requests: 1, perMs: 60_000 } }), acmeConnection("gone")],
      [noteRule("r-flaky", "flaky"), noteRule("r-slow", "slow"), noteRule("r-gone", "gone", { event: "user.left", metadata: { action: "gone" } })],
    ),
    destinations: [acme({ simulator: { now: () => clock.now() } })],
    store: sqliteStore({ path }),
    clock,
    logger: { warn: () => {}, error: () => {} },
  });
  return { engine, clock };
}

describe("SQLite persistence", () => {
  it("keeps history across restarts and resumes pending and retrying deliveries", async () => {
    const path = join(dir, "resume.db");
    const a = engineOn(path, T0);
    await a.engine.start();
    a.engine.sandbox("flaky").inject({ status: 503 });
    const first = await a.engine.ingest([pageCompleted("e1"), pageCompleted("e2"), pageCompleted("e3")], { publishableKey: KEY_A });
    await a.engine.ingest([{ id: "bye", event: "user.left", payload: {} }], { publishableKey: KEY_A });
    await a.engine.drain();
    await a.engine.stop();

    const db = new Database(path, { readonly: true });
    const open = db.prepare("SELECT event_id, rule_id, status FROM deliveries WHERE status IN ('pending', 'processing', 'retrying') ORDER BY event_id, rule_id").all();
    db.close();
    expect(open).toEqual([
      { event_id: "e1", rule_id: "r-flaky", status: "retrying" },
      { event_id: "e2", rule_id: "r-slow", status: "pending" },
      { event_id: "e3", rule_id: "r-slow", status: "pending" },
    ]);

    const b = engineOn(path, a.clock.now() + 1000);
    await b.engine.start();
    await b.engine.drain({ advanceClock: true });
    for (const id of ["e1", "e2", "e3"]) {
      expect((await b.engine.events.get(id))!.deliveries.map((d) => d.status)).toEqual(["completed", "completed"]);
    }
    expect((await b.engine.attempts.list("e1", "r-flaky")).map((a) => a.outcome)).toEqual(["rejected_server_error", "delivered"]);
    expect(b.engine.sandbox<AcmeSnapshot>("slow").snapshot().notes).toHaveLength(2);

    // Idempotency survives the restart too.
    const again = await b.engine.ingest([pageCompleted("e1")], { publishableKey: KEY_A });
    expect(again.records[0]).toEqual(first.records[0]);
    expect((await b.engine.events.get("e1"))!.deliveries).toHaveLength(2);

    // So does a connection the destination disabled.
    await b.engine.ingest([{ id: "bye-again", event: "user.left", payload: {} }], { publishableKey: KEY_A });
    await b.engine.drain({ advanceClock: true });
    expect((await b.engine.events.get("bye-again"))!.deliveries[0]!.last_error).toMatch(/^connection "gone" is disabled since /);
    expect((await b.engine.events.list({ workspace: "acme-prod" })).records.map((e) => e.id).sort()).toEqual(["bye", "bye-again", "e1", "e2", "e3"]);
    await b.engine.stop();
  });

  it("runs a delivery left processing by a dead process again, with the same idempotency key", async () => {
    const path = join(dir, "processing.db");
    const a = engineOn(path, T0);
    await a.engine.start();
    a.engine.sandbox("flaky").inject({ status: 503 });
    await a.engine.ingest([pageCompleted("e1")], { publishableKey: KEY_A });
    await a.engine.drain();
    await a.engine.stop();
    // What a crash in the middle of attempt 2 leaves behind.
    const db = new Database(path);
    const row = db.prepare("SELECT id, idempotency_key FROM deliveries WHERE rule_id = 'r-flaky'").get() as { id: string; idempotency_key: string };
    db.prepare("UPDATE deliveries SET status = 'processing', attempt_count = 2, next_attempt_at = NULL WHERE id = ?").run(row.id);
    db.close();

    const b = engineOn(path, a.clock.now() + 60_000);
    await b.engine.start();
    await b.engine.drain({ advanceClock: true });
    const attempts = await b.engine.attempts.list("e1", "r-flaky");
    expect(attempts.map((x) => [x.attempt, x.outcome])).toEqual([
      [1, "rejected_server_error"],
      [2, "internal_error"],
      [3, "delivered"],
    ]);
    expect(attempts[1]!.message).toMatch(/^attempt interrupted: the engine stopped \(crash, kill or abort\) while it was in flight/);
    expect(b.engine.sandbox("flaky").requests.map((r) => r.headers["idempotency-key"])).toEqual([row.idempotency_key]);
    expect((await b.engine.events.get("e1"))!.deliveries.find((d) => d.rule_id === "r-flaky")).toMatchObject({ status: "completed", attempt_count: 3, idempotency_key: row.idempotency_key });
    await b.engine.stop();
  });
});

describe("SQLite ingest", () => {
  it("refuses a payload with no JSON form in its own record, and stores the rest", async () => {
    const { engine } = engineOn(join(dir, "json.db"), T0);
    await engine.start();
    const circular: Record<string, unknown> = { email: "alex@northstar.io" };
    circular.self = circular;
    const result = await engine.ingest([pageCompleted("ok"), { id: "bad", event: "page.completed", payload: circular }, { id: "big", event: "page.completed", payload: { n: 1n } }] as never, { publishableKey: KEY_A });
    expect(result).toMatchObject({ count: 1, error_count: 2 });
    expect(result.records[1]).toMatchObject({ field: "payload", error: "invalid_event" });
    expect((result.records[1] as { message: string }).message).toMatch(/^payload: must be JSON-serializable \(/);
    expect((await engine.events.get("ok"))!.payload).toMatchObject({ email: "alex@northstar.io" });
    await engine.stop();
  });
});

describe("write-ahead", () => {
  it("launches a large group of committed starts in slices, so their completions are written while the rest still run", async () => {
    const store = memoryStore();
    const writes: number[] = [];
    const write = store.write.bind(store);
    store.write = (batch) => {
      if (batch.attempts.length) writes.push(batch.attempts.length);
      return write(batch);
    };
    const engine = createEngine({
      config: config(
        [acmeConnection("quick", "acme-prod", { type: "noop", mode: "live", credentials: { token: "noop-token" } })],
        [noteRule("r-quick", "quick", { metadata: { action: "ping" } })],
      ),
      destinations: [noop()],
      store,
      writeAhead: true,
      logger: { warn: () => {}, error: () => {} },
    });
    await engine.start();
    await engine.ingest(Array.from({ length: 300 }, (_, i) => pageCompleted(`evt_${i}`)), { publishableKey: KEY_A });
    await engine.drain({ timeoutMs: 10_000 });
    await engine.stop();
    expect(writes.reduce((a, b) => a + b, 0)).toBe(300);
    // All 300 start in one commit; launched at once, every completion would land in one write.
    // In slices (here 38, an eighth of 300), each write carries a slice or two.
    expect(writes.length, writes.join()).toBeGreaterThanOrEqual(4);
    expect(Math.max(...writes), writes.join()).toBeLessThanOrEqual(100);
  });
});

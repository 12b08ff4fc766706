import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAcmeSimulator } from "./__fixtures__/destinations.js";
import { defineAction, defineDestination } from "@meshwork/destination-kit";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createEngine, sqliteStore, type Engine, type EngineOptions } from "./index.js";
import type { Store } from "./types.js";
import { KEY_A, config, pageCompleted } from "./__fixtures__/config.js";

const dir = mkdtempSync(join(tmpdir(), "meshwork-window-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const dbPath = () => join(dir, `window-${files++}.db`);

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop({ timeoutMs: 100 })));
});

/**
 * A destination whose sends wait at a gate until the test opens it (delivery slower than
 * ingest). It records every send that got through, and the most deliveries the engine held in
 * memory whenever one was sent.
 */
function gated() {
  let open = false;
  let waiting: Array<() => void> = [];
  const sent: Array<{ key: string; event: string; rule: string }> = [];
  const watch = { engine: undefined as Engine | undefined, maxInMemory: 0 };
  const observe = () => {
    if (watch.engine) watch.maxInMemory = Math.max(watch.maxInMemory, watch.engine.stats().inMemory);
  };
  const destination = defineDestination({
    type: "gate",
    name: "Gate",
    credentials: z.object({ token: z.string() }),
    baseUrl: "https://gate.test",
    concurrency: 5,
    actions: {
      send: defineAction({
        description: "Waits at the gate, then counts as sent",
        metadata: z.object({ rule: z.string() }),
        async perform({ idempotencyKey, event, metadata, signal }) {
          observe();
          if (!open) {
            await new Promise<void>((resolve, reject) => {
              waiting.push(resolve);
              signal.addEventListener("abort", () => reject(signal.reason as Error), { once: true });
            });
          }
          sent.push({ key: idempotencyKey, event: event.id, rule: metadata.rule });
          return { summary: "sent" };
        },
      }),
    },
    sandbox: () => createAcmeSimulator(),
  });
  return {
    destination,
    sent,
    watch,
    observe,
    open() {
      open = true;
      const list = waiting;
      waiting = [];
      for (const resolve of list) resolve();
    },
  };
}

const connection = (id: string) => ({ id, workspace: "acme-prod", type: "gate", name: id, mode: "sandbox" as const, credentials: { token: "t" } });
const rule = (id: string, conn: string) => ({ id, workspace: "acme-prod", connection: conn, event: "page.completed", metadata: { action: "send", rule: id } });
const twoRules = config([connection("c1"), connection("c2")], [rule("r1", "c1"), rule("r2", "c2")]);
const oneRule = config([connection("c1")], [rule("r1", "c1")]);

function start(options: Omit<EngineOptions, "config" | "destinations"> & { gate: ReturnType<typeof gated>; config?: EngineOptions["config"] }) {
  const { gate, ...rest } = options;
  const engine = createEngine({
    config: twoRules,
    destinations: [gate.destination],
    logger: { warn: () => {}, error: () => {} },
    retry: { schedule: [0, 10, 10, 10], jitter: 0 },
    ...rest,
  });
  engines.push(engine);
  gate.watch.engine = engine;
  engine.on("delivery", gate.observe);
  return engine;
}

const ids = (from: number, count: number) => Array.from({ length: count }, (_, i) => pageCompleted(`evt_${String(from + i).padStart(4, "0")}`));
const ingest = (engine: Engine, events: unknown[]) => engine.ingest(events as never, { publishableKey: KEY_A });
const settled = (promise: Promise<unknown>, ms: number) => Promise.race([promise.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), ms))]);

/**
 * The store, with two holds a test can set (each used once): on the answer of a page of open
 * deliveries after its query ran, and on the answer of an insert after its commit.
 */
function holding(inner: Store) {
  const holds: { page?: () => Promise<void>; insert?: () => Promise<void> } = {};
  const held = async <T>(name: "page" | "insert", answer: T): Promise<T> => {
    const hold = holds[name];
    holds[name] = undefined;
    if (hold) await hold();
    return answer;
  };
  const store: Store = new Proxy(inner, {
    get(target, prop) {
      if (prop === "openDeliveryPage") return async (query: never) => held("page", await target.openDeliveryPage!(query));
      if (prop === "insertEvents") return async (items: never) => held("insert", await target.insertEvents(items));
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, holds };
}

async function until(condition: () => boolean, ms = 5000): Promise<void> {
  for (const started = Date.now(); !condition(); ) {
    if (Date.now() - started > ms) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Every delivery was sent exactly once: one send per (event, rule), each under its own idempotency key. */
function expectEachOnce(sent: Array<{ key: string; event: string; rule: string }>, events: number, rules: string[]) {
  expect(sent).toHaveLength(events * rules.length);
  expect(new Set(sent.map((s) => s.key)).size).toBe(sent.length);
  expect(new Set(sent.map((s) => `${s.event}/${s.rule}`)).size).toBe(sent.length);
}

describe("the in-memory window of open deliveries (SQLite)", () => {
  it("holds at most maxOpenInMemory open deliveries while ingest outruns delivery, sends every one exactly once, and drain waits for the spilled ones", async () => {
    const gate = gated();
    const engine = start({ gate, store: sqliteStore({ path: dbPath() }), maxOpenInMemory: 50 });
    await engine.start();
    for (let i = 0; i < 1000; i += 50) {
      await ingest(engine, ids(i, 50));
      gate.observe();
    }
    const stats = engine.stats();
    expect(stats.open).toBe(2000);
    expect(stats.inMemory).toBeLessThanOrEqual(50);
    expect(stats.spilled).toBe(2000 - stats.inMemory);

    const drained = engine.drain({ timeoutMs: 30_000 });
    expect(await settled(drained, 100)).toBe(false);
    gate.open();
    await drained;
    expectEachOnce(gate.sent, 1000, ["r1", "r2"]);
    expect(gate.watch.maxInMemory).toBeLessThanOrEqual(50);
    expect(engine.stats()).toMatchObject({ open: 0, inMemory: 0, spilled: 0 });
    const page = await engine.events.list({ workspace: "acme-prod", status: "completed", limit: 500 });
    expect(page.count).toBe(500);
  });

  it("cancels, retries and replays spilled deliveries through the store, and re-ingesting a spilled event creates nothing", async () => {
    const gate = gated();
    const engine = start({ gate, config: oneRule, store: sqliteStore({ path: dbPath() }), maxOpenInMemory: 4 });
    await engine.start();
    await ingest(engine, ids(0, 10));
    expect(engine.stats()).toMatchObject({ open: 10, inMemory: 4, spilled: 6 });

    // A spilled delivery is visible as it is in the store.
    const detail = await engine.events.get("evt_0009");
    expect(detail!.deliveries.map((d) => d.status)).toEqual(["pending"]);

    expect(await engine.cancel("evt_0009", "r1")).toMatchObject({ status: "canceled" });
    expect((await engine.events.cancel("evt_0008")).map((d) => d.status)).toEqual(["canceled"]);
    expect((await engine.cancel("evt_0007", "r1")).status).toBe("canceled");
    expect(engine.stats()).toMatchObject({ open: 7, spilled: 3 });
    expect((await engine.events.get("evt_0008"))!.status).toBe("canceled");

    // Retried: open again, waiting with the spilled ones.
    expect(await engine.retry("evt_0009", "r1")).toMatchObject({ status: "pending", completed_at: null });
    expect(engine.stats()).toMatchObject({ open: 8, spilled: 4 });
    // Replayed while still past the window: the same.
    expect(await engine.replay({ workspace: "acme-prod", status: "canceled", event: "page.completed" }, { dryRun: true })).toEqual({ count: 2 });
    await engine.replay({ workspace: "acme-prod", status: "canceled", rule: "r1", since: 0 }).then((r) => expect(r.count).toBe(2));
    expect(engine.stats()).toMatchObject({ open: 10, spilled: 6 });

    // The same events again: already stored, nothing new.
    await ingest(engine, ids(0, 10));
    expect(engine.stats().open).toBe(10);

    gate.open();
    await engine.drain({ timeoutMs: 10_000 });
    expectEachOnce(gate.sent, 10, ["r1"]);
    expect(gate.watch.maxInMemory).toBeLessThanOrEqual(4);
    expect(engine.stats().open).toBe(0);
  });

  it("a spilled delivery canceled for good is never sent", async () => {
    const gate = gated();
    const engine = start({ gate, config: oneRule, store: sqliteStore({ path: dbPath() }), maxOpenInMemory: 2 });
    await engine.start();
    await ingest(engine, ids(0, 6));
    await engine.cancel("evt_0004", "r1");
    gate.open();
    await engine.drain({ timeoutMs: 10_000 });
    expect(gate.sent.map((s) => s.event).sort()).toEqual(["evt_0000", "evt_0001", "evt_0002", "evt_0003", "evt_0005"]);
    expect((await engine.events.get("evt_0004"))!.deliveries[0]!.status).toBe("canceled");
  });

  it("a restart with a backlog larger than the window reads it page by page and delivers all of it", async () => {
    const path = dbPath();
    const closed = gated();
    const first = start({ gate: closed, store: sqliteStore({ path }), maxOpenInMemory: 20 });
    await first.start();
    for (let i = 0; i < 200; i += 25) await ingest(first, ids(i, 25));
    expect(first.stats()).toMatchObject({ open: 400, inMemory: 20, spilled: 380 });
    await first.stop({ timeoutMs: 50 });
    expect(closed.sent).toHaveLength(0);

    const gate = gated();
    const second = start({ gate, store: sqliteStore({ path }), maxOpenInMemory: 20 });
    await second.start();
    expect(second.stats()).toMatchObject({ open: 400, inMemory: 20, spilled: 380 });
    gate.open();
    await second.drain({ timeoutMs: 20_000 });
    expectEachOnce(gate.sent, 200, ["r1", "r2"]);
    expect(gate.watch.maxInMemory).toBeLessThanOrEqual(20);
    expect(second.stats().open).toBe(0);
  });

  it("refills the window in whole pages, not with the few deliveries that finished since the last page", async () => {
    const gate = gated();
    const limits: number[] = [];
    const inner = sqliteStore({ path: dbPath() });
    const store: Store = new Proxy(inner, {
      get(target, prop) {
        if (prop === "openDeliveryPage") {
          return (query: Parameters<NonNullable<Store["openDeliveryPage"]>>[0]) => {
            limits.push(query.limit);
            return target.openDeliveryPage!(query);
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    // A refill (from half the window, 600, to 1200) takes two pages; deliveries finish meanwhile.
    const engine = start({ gate, store, config: oneRule, maxOpenInMemory: 1200 });
    await engine.start();
    for (let i = 0; i < 4000; i += 100) await ingest(engine, ids(i, 100));
    gate.open();
    await engine.drain({ timeoutMs: 20_000 });
    expectEachOnce(gate.sent, 4000, ["r1"]);
    expect(limits.length).toBeGreaterThan(4);
    // Every page but the last (which finds the spill's end) is a whole one.
    expect(limits.slice(0, -1).every((limit) => limit === 500)).toBe(true);
  });

  it("loses nothing to events ingested while a page is being read", async () => {
    const gate = gated();
    const { store, holds } = holding(sqliteStore({ path: dbPath() }));
    const engine = start({ gate, config: oneRule, store, maxOpenInMemory: 10 });
    await engine.start();
    // 10 in memory and 2 spilled: the first page reads both and reaches the end...
    await ingest(engine, ids(0, 12));
    expect(engine.stats()).toMatchObject({ inMemory: 10, spilled: 2 });
    // ...but more events spill while it is read: they must not be left behind.
    let held = 0;
    holds.page = async () => {
      held++;
      for (let i = 12; i < 42; i += 10) await ingest(engine, ids(i, 10));
    };
    gate.open();
    await engine.drain({ timeoutMs: 10_000 });
    expect(held).toBe(1);
    expectEachOnce(gate.sent, 42, ["r1"]);
    expect(gate.watch.maxInMemory).toBeLessThanOrEqual(10);
    expect(engine.stats()).toMatchObject({ open: 0, spilled: 0 });
  });

  it("a spilled delivery canceled while its page is being read is not sent", async () => {
    const gate = gated();
    const { store, holds } = holding(sqliteStore({ path: dbPath() }));
    const engine = start({ gate, config: oneRule, store, maxOpenInMemory: 4 });
    await engine.start();
    await ingest(engine, ids(0, 8));
    let canceled: Promise<unknown> | undefined;
    holds.page = async () => {
      // The page (read while evt_0004 was still pending) holds it: the cancel waits for the page.
      canceled = engine.cancel("evt_0004", "r1");
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    gate.open();
    await until(() => canceled !== undefined);
    // It was loaded and started in the meantime: its request is not sent (canceled before it left).
    await canceled;
    await engine.drain({ timeoutMs: 10_000 });
    expect(gate.sent.map((s) => s.event).sort()).toEqual(["evt_0000", "evt_0001", "evt_0002", "evt_0003", "evt_0005", "evt_0006", "evt_0007"]);
    expect((await engine.events.get("evt_0004"))!.deliveries[0]!.status).toBe("canceled");
    expect(engine.stats().open).toBe(0);
  });

  it("a page does not read events committed by an ingest that has not yet placed them", async () => {
    const gate = gated();
    const { store, holds } = holding(sqliteStore({ path: dbPath() }));
    const engine = start({ gate, config: oneRule, store, maxOpenInMemory: 4 });
    await engine.start();
    await ingest(engine, ids(0, 6));
    expect(engine.stats()).toMatchObject({ inMemory: 4, spilled: 2 });
    // The next ingest commits, but its answer is held until the spilled deliveries were read and sent.
    let release!: () => void;
    holds.insert = () => new Promise<void>((resolve) => (release = resolve));
    const late = ingest(engine, ids(6, 3));
    await until(() => release !== undefined);
    gate.open();
    await until(() => gate.sent.length >= 6 && engine.stats().spilled === 0);
    release();
    await late;
    await engine.drain({ timeoutMs: 10_000 });
    expectEachOnce(gate.sent, 9, ["r1"]);
    expect(engine.stats().open).toBe(0);
  });

  it("sends the next group of events to the store while the last one is being committed, and places both in commit order", async () => {
    const gate = gated();
    const store = sqliteStore({ path: dbPath() });
    // A slow store: it commits in the order it is called, once the test lets it go on.
    const calls: number[] = [];
    let waiting: Array<() => void> | undefined = [];
    let previous: Promise<unknown> = Promise.resolve();
    const insertEvents = store.insertEvents.bind(store);
    store.insertEvents = (items) => {
      calls.push(items.length);
      const go = waiting ? new Promise<void>((resolve) => waiting!.push(resolve)) : undefined;
      const committed = previous.then(() => go).then(() => insertEvents(items));
      previous = committed.catch(() => {});
      return committed;
    };
    const engine = start({ gate, config: oneRule, store, maxOpenInMemory: 4 });
    await engine.start();
    const first = ingest(engine, ids(0, 3));
    await until(() => calls.length === 1);
    const second = ingest(engine, ids(3, 3));
    // The second group reached the store before the first one was committed.
    await until(() => calls.length === 2);
    for (const resolve of waiting!) resolve();
    waiting = undefined;
    await Promise.all([first, second]);
    // The window still holds: the first three fit it, the next three were committed behind them.
    const stats = engine.stats();
    expect(stats.open).toBe(6);
    expect(stats.inMemory).toBeLessThanOrEqual(4);
    expect(stats.inMemory + stats.spilled).toBe(6);
    gate.open();
    await engine.drain({ timeoutMs: 10_000 });
    expectEachOnce(gate.sent, 6, ["r1"]);
    expect(gate.sent.map((s) => s.event)).toEqual(ids(0, 6).map((e) => e.id));
  });

  it("does not apply to memoryStore (everything is in memory anyway) nor with Infinity", async () => {
    const gate = gated();
    const memory = start({ gate, config: oneRule, maxOpenInMemory: 2 });
    await memory.start();
    await ingest(memory, ids(0, 5));
    expect(memory.stats()).toMatchObject({ open: 5, inMemory: 5, spilled: 0 });

    const other = gated();
    const unbounded = start({ gate: other, config: oneRule, store: sqliteStore({ path: dbPath() }), maxOpenInMemory: Infinity });
    await unbounded.start();
    await ingest(unbounded, ids(0, 5));
    expect(unbounded.stats()).toMatchObject({ open: 5, inMemory: 5, spilled: 0 });
    expect(() => start({ gate, maxOpenInMemory: 0 })).toThrow(/maxOpenInMemory/);
  });
});

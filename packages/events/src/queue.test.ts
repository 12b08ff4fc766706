import { HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { MeshworkError} from "./index.js";
import { createClient, memoryQueue, type ClientEventMap, type MeshworkClient } from "./index.js";
import { bulkSink, created, ENDPOINT, io, KEY, until } from "./__fixtures__/sink.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  server.resetHandlers();
  vi.useRealTimers();
  vi.restoreAllMocks();
});
afterAll(() => server.close());

const clients: MeshworkClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close({ timeoutMs: 50 })));
});
const make = (options: Partial<Parameters<typeof createClient>[0]> = {}): MeshworkClient => {
  const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, ...options } as Parameters<typeof createClient>[0]);
  clients.push(client);
  return client;
};
const advance = async (ms: number) => {
  await vi.advanceTimersByTimeAsync(ms);
  await io();
};

describe("endpoint down longer than the queue holds", () => {
  it("stays under maxQueueEvents, reports every drop and delivers what it kept once the endpoint is back", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const sink = bulkSink(server);
    let down = true;
    sink.respond((request) => (down ? new HttpResponse(null, { status: 503 }) : created(request)));
    const client = make({
      flushAt: 10,
      maxInFlight: 2,
      maxQueueEvents: 50,
      flushIntervalMs: 100,
      retry: { maxAttempts: 1000, baseDelayMs: 200, maxDelayMs: 2000 },
    });
    const dropped: Array<ClientEventMap["dropped"]> = [];
    const delivered: string[] = [];
    client.on("dropped", (event) => dropped.push(event));
    client.on("delivered", ({ event }) => delivered.push(event.id));
    const outcomes: Array<Promise<unknown>> = [];
    let peak = 0;
    for (let second = 0; second < 60; second++) {
      for (let i = 0; i < 10; i++) {
        outcomes.push(client.emit({ event: "tick", payload: { second, i } }).then(() => "delivered", (e: MeshworkError) => e.code));
        peak = Math.max(peak, outcomes.length - dropped.length - delivered.length);
      }
      await advance(1000);
    }
    expect(peak).toBeLessThanOrEqual(50);
    expect(delivered).toHaveLength(0);
    expect(dropped.length).toBe(600 - 50);
    expect(dropped.every((d) => d.reason === "queue_full" && d.error.code === "queue_full")).toBe(true);
    down = false;
    await advance(5000);
    const codes = await Promise.all(outcomes);
    expect(codes.filter((c) => c === "delivered")).toHaveLength(50);
    expect(codes.filter((c) => c === "queue_full")).toHaveLength(550);
    expect(new Set(delivered).size).toBe(50);
    for (const id of delivered) expect(sink.stored.get(id)).toBe(1);
    for (const { event } of dropped) expect(sink.stored.has(event.id)).toBe(false);
    // drop-oldest: what survives is the newest events plus the batch that was in flight as a probe.
    const lastSecond = codes.slice(-10);
    expect(lastSecond.every((c) => c === "delivered")).toBe(true);
    expect(await client.close()).toEqual({ sent: 50, failed: 0, dropped: 550, pending: 0 });
  });

  it("also bounds the bytes it holds", async () => {
    const sink = bulkSink(server);
    sink.respond(() => new HttpResponse(null, { status: 503 }));
    const event = (i: number) => ({ id: `evt_${String(i).padStart(3, "0")}`, event: "sized", payload: { pad: "x".repeat(500) } });
    const bytes = JSON.stringify(event(0)).length;
    const client = make({ maxQueueBytes: bytes * 5, flushIntervalMs: 60_000, retry: { baseDelayMs: 60_000 } });
    const dropped: string[] = [];
    client.on("dropped", ({ event }) => dropped.push(event.id));
    for (let i = 0; i < 20; i++) void client.emit(event(i));
    expect(dropped).toEqual(Array.from({ length: 15 }, (_, i) => event(i).id));
    expect(await client.close({ timeoutMs: 10 })).toMatchObject({ dropped: 15, pending: 5 });
  });

  it("drop-newest keeps what is queued and refuses the newcomers", async () => {
    bulkSink(server);
    const client = make({ maxQueueEvents: 10, overflow: "drop-newest", flushIntervalMs: 1 });
    const dropped: string[] = [];
    client.on("dropped", ({ event }) => dropped.push(event.event));
    const outcomes = Array.from({ length: 30 }, (_, i) =>
      client.emit({ event: `e${i}`, payload: {} }).then(
        () => "delivered",
        (e: MeshworkError) => e.code,
      ),
    );
    expect(dropped).toEqual(Array.from({ length: 20 }, (_, i) => `e${i + 10}`));
    const codes = await Promise.all(outcomes);
    expect(codes.slice(0, 10).every((c) => c === "delivered")).toBe(true);
    expect(codes.slice(10).every((c) => c === "queue_full")).toBe(true);
  });

  it("reject makes emit throw once the queue is full, without dropping anything", async () => {
    bulkSink(server);
    const client = make({ maxQueueEvents: 3, overflow: "reject", flushIntervalMs: 1 });
    const dropped = vi.fn();
    client.on("dropped", dropped);
    const receipts = [0, 1, 2].map((i) => client.emit({ event: "ok", payload: { i } }));
    expect(() => client.emit({ event: "too.many", payload: {} })).toThrow(expect.objectContaining({ code: "queue_full", retryable: true }));
    await Promise.all(receipts);
    expect(dropped).not.toHaveBeenCalled();
    await client.emit({ event: "room.again", payload: {} });
  });
});

describe("queue option", () => {
  it("stores each event before emit returns and forgets it once acknowledged", async () => {
    bulkSink(server);
    const queue = memoryQueue();
    const client = make({ queue, flushIntervalMs: 5 });
    const receipt = client.emit({ event: "a", payload: {} });
    expect(queue.size).toBe(1);
    await receipt;
    expect(queue.size).toBe(0);
  });

  it("hands events still pending at close to the next client, ids unchanged", async () => {
    const sink = bulkSink(server);
    let down = true;
    sink.respond((request) => (down ? new HttpResponse(null, { status: 503 }) : created(request)));
    const queue = memoryQueue();
    const first = make({ queue, flushIntervalMs: 1, retry: { baseDelayMs: 60_000 } });
    const outcomes = [0, 1, 2].map((i) => first.emit({ event: "carry", payload: { i } }).catch((e: MeshworkError) => e.code));
    await until(() => sink.received.length > 0);
    expect(await first.close({ timeoutMs: 50 })).toMatchObject({ sent: 0, pending: 3 });
    expect(await Promise.all(outcomes)).toEqual(["client_closed", "client_closed", "client_closed"]);
    const sentBefore = new Set(sink.sentIds());
    expect(queue.size).toBe(3);
    down = false;
    const second = make({ queue, flushIntervalMs: 1 });
    await second.flush();
    const delivered = [...sink.stored.keys()];
    expect(new Set(delivered)).toEqual(sentBefore);
    expect(queue.size).toBe(0);
  });

  it("waits for a queue that loads asynchronously and sends its events first", async () => {
    const sink = bulkSink(server);
    const base = memoryQueue();
    base.add({ id: "evt_old", body: JSON.stringify({ id: "evt_old", event: "old", payload: {} }) });
    const queue = { ...base, load: async () => base.load(), add: base.add, remove: base.remove };
    const client = make({ queue, flushIntervalMs: 1 });
    await client.emit({ event: "new", payload: {} });
    expect(sink.received.flatMap((r) => r.events.map((e) => e.event))).toEqual(["old", "new"]);
    expect(base.size).toBe(0);
  });
});

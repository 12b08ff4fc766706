import { delay, http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, type EventQueue, type MeshworkError } from "./index.js";
import { bulkSink, created, ENDPOINT, KEY, sleep, storedOf, until } from "./__fixtures__/sink.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

describe("close", () => {
  it("resolves by its deadline when requests hang, aborting them, and reports what is pending", async () => {
    const signals: AbortSignal[] = [];
    server.use(
      http.post(`${ENDPOINT}/api/v1/events/bulk`, async ({ request }) => {
        signals.push(request.signal);
        await delay("infinite");
        return new HttpResponse(null, { status: 201 });
      }),
    );
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, flushAt: 2, maxInFlight: 2, timeoutMs: 60_000 });
    const outcomes = Array.from({ length: 5 }, (_, i) =>
      client.emit({ event: "hang", payload: { i } }).catch((e: MeshworkError) => e.code),
    );
    await until(() => signals.length === 2);
    const started = Date.now();
    const report = await client.close({ timeoutMs: 200 });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1000);
    expect(report).toEqual({ sent: 0, failed: 0, dropped: 0, pending: 5 });
    expect(await Promise.all(outcomes)).toEqual(Array(5).fill("client_closed"));
    expect(signals.every((signal) => signal.aborted)).toBe(true);
  });

  it("flushes what is queued before resolving", async () => {
    const sink = bulkSink(server);
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, flushIntervalMs: 60_000 });
    const receipts = [1, 2, 3].map((i) => client.emit({ event: "late", payload: { i } }));
    expect(await client.close()).toEqual({ sent: 3, failed: 0, dropped: 0, pending: 0 });
    expect(sink.received.map((r) => r.events.length)).toEqual([3]);
    await expect(Promise.all(receipts)).resolves.toHaveLength(3);
  });

  it("counts sent, failed and pending separately while the endpoint is down", async () => {
    const sink = bulkSink(server);
    sink.respond((request) => {
      const event = request.events[0]!.event;
      if (event === "good") return created(request);
      if (event === "bad") return HttpResponse.json({ message: "payload.email is required" }, { status: 400 });
      return new HttpResponse(null, { status: 503, headers: { "Retry-After": "60" } });
    });
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, flushAt: 1, maxInFlight: 1 });
    await client.emit({ event: "good", payload: {} });
    await client.emit({ event: "bad", payload: {} }).catch(() => undefined);
    void client.emit({ event: "down", payload: {} });
    void client.emit({ event: "down", payload: {} });
    await until(() => sink.received.length === 3);
    const started = Date.now();
    expect(await client.close({ timeoutMs: 100 })).toEqual({ sent: 1, failed: 1, dropped: 0, pending: 2 });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("returns the same report when called twice and never rejects, even if the queue fails to close", async () => {
    bulkSink(server);
    const queue: EventQueue = {
      load: () => [],
      add: () => undefined,
      remove: () => undefined,
      close: () => Promise.reject(new Error("disk gone")),
    };
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, queue, flushIntervalMs: 1 });
    await client.emit({ event: "a", payload: {} }).catch(() => undefined);
    const first = client.close({ timeoutMs: 100 });
    expect(client.close()).toBe(first);
    await expect(first).resolves.toEqual({ sent: 1, failed: 0, dropped: 0, pending: 0 });
  });
});

describe("fire-and-forget", () => {
  it("never produces an unhandled rejection, whatever happens to the events", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const sink = bulkSink(server);
      sink.respond((request) => {
        const kind = request.events[0]!.event;
        if (kind === "refused") return HttpResponse.json({ message: "no" }, { status: 422 });
        if (kind === "partial") {
          return HttpResponse.json(
            { count: 0, error_count: request.events.length, records: request.events.map(() => ({ message: "bad", error: "validation_error" })) },
            { status: 207 },
          );
        }
        if (kind === "flaky") return new HttpResponse(null, { status: 500 });
        if (kind === "hang") return delay("infinite").then(() => created(request));
        return HttpResponse.json({ count: 1, records: request.events.map(storedOf) }, { status: 201 });
      });
      const client = createClient({
        publishableKey: KEY,
        endpoint: ENDPOINT,
        flushAt: 1,
        maxQueueEvents: 20,
        overflow: "drop-newest",
        retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
      });
      for (const kind of ["refused", "partial", "flaky", "ok", "hang"]) {
        for (let i = 0; i < 10; i++) void client.emit({ event: kind, payload: { i } });
      }
      await sleep(200);
      await client.close({ timeoutMs: 100 });
      await sleep(50);
      expect(sink.received.length).toBeGreaterThan(0);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

import { delay, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createClient, MeshworkDeliveryError, type ClientEventMap, type MeshworkClient } from "./index.js";
import { isRetryableRecord, isRetryableStatus, parseRetryAfter } from "./retry.js";
import { bulkSink, created, ENDPOINT, io, KEY, storedOf } from "./__fixtures__/sink.js";

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
  const client = createClient({
    publishableKey: KEY,
    endpoint: ENDPOINT,
    flushIntervalMs: 1,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  } as Parameters<typeof createClient>[0]);
  clients.push(client);
  return client;
};
const fakeTimers = () => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
  vi.setSystemTime(new Date("2025-03-01T12:00:00.000Z"));
};
const advance = async (ms: number) => {
  await vi.advanceTimersByTimeAsync(ms);
  await io();
};
const problem = (status: number, headers: Record<string, string> = {}) =>
  HttpResponse.json({ message: `failure ${status}`, error: "test" }, { status, headers });

describe("classification", () => {
  it("treats 408, 425, 429 and 5xx except 501 and 505 as retryable", () => {
    const retryable = [408, 425, 429, 500, 502, 503, 504, 507, 511, 599];
    const permanent = [400, 401, 403, 404, 409, 410, 413, 422, 501, 505];
    for (const status of retryable) expect(isRetryableStatus(status), String(status)).toBe(true);
    for (const status of permanent) expect(isRetryableStatus(status), String(status)).toBe(false);
  });

  it("reads Retry-After in seconds and as an HTTP date", () => {
    const now = Date.parse("2025-03-01T12:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 0 ", now)).toBe(0);
    expect(parseRetryAfter("Sat, 01 Mar 2025 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Sat, 01 Mar 2025 11:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it("decides which failed bulk records are worth resending", () => {
    expect(isRetryableRecord({ message: "busy", error: "internal_error" })).toBe(true);
    expect(isRetryableRecord({ message: "slow", error: { code: "timeout" } })).toBe(true);
    expect(isRetryableRecord({ message: "x", status: 503 })).toBe(true);
    expect(isRetryableRecord({ message: "x", retryable: true, error: "validation_error" })).toBe(true);
    expect(isRetryableRecord({ message: "payload.email is required", error: "validation_error" })).toBe(false);
    expect(isRetryableRecord({ message: "x", status: 400 })).toBe(false);
    expect(isRetryableRecord({ message: "no code" })).toBe(false);
  });
});

describe("answers", () => {
  it.each([408, 425, 429, 500, 502, 503, 504, 507, 599])("retries after %i with the same ids and Idempotency-Key", async (status) => {
    const sink = bulkSink(server);
    sink.respond((request, i) => (i === 0 ? problem(status) : created(request)));
    const client = make();
    const retries: Array<ClientEventMap["retry"]> = [];
    client.on("retry", (event) => retries.push(event));
    const receipts = [client.emit({ event: "a", payload: { n: 1 } }), client.emit({ event: "b", payload: { n: 2 } })];
    const stored = await Promise.all(receipts);
    expect(sink.received).toHaveLength(2);
    const [first, second] = sink.received;
    expect(second!.events).toEqual(first!.events);
    expect(second!.key).toBe(first!.key);
    expect(stored.map((receipt) => receipt.id)).toEqual(first!.events.map((event) => event.id));
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ ids: first!.events.map((event) => event.id), attempt: 1 });
    expect((retries[0]!.error as MeshworkDeliveryError).status).toBe(status);
  });

  it.each([400, 401, 403, 404, 409, 410, 413, 422, 501, 505])("fails at once on %i and rejects with the endpoint's message", async (status) => {
    const sink = bulkSink(server);
    sink.respond(() => problem(status));
    const client = make();
    const failed: Array<ClientEventMap["failed"]> = [];
    client.on("failed", (event) => failed.push(event));
    const receipt = client.emit({ event: "a", payload: {} });
    const error = (await receipt.then(
      () => expect.unreachable(),
      (e: unknown) => e,
    )) as MeshworkDeliveryError;
    expect(MeshworkDeliveryError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "rejected", retryable: false, status });
    expect(error.message).toContain(`failure ${status}`);
    expect(error.data).toMatchObject({ status, data: { message: `failure ${status}` } });
    expect(sink.received).toHaveLength(1);
    expect(failed.map((f) => f.event.id)).toEqual([sink.received[0]!.events[0]!.id]);
  });

  it("retries network errors", async () => {
    const sink = bulkSink(server);
    sink.respond((request, i) => (i === 0 ? HttpResponse.error() : created(request)));
    const client = make();
    const codes: string[] = [];
    client.on("retry", ({ error }) => codes.push(error.code));
    await client.emit({ event: "a", payload: {} });
    expect(codes).toEqual(["network_error"]);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.key).toBe(sink.received[0]!.key);
  });

  it("retries a request that times out", async () => {
    const sink = bulkSink(server);
    sink.respond(async (request, i) => {
      if (i === 0) await delay("infinite");
      return created(request);
    });
    const client = make({ timeoutMs: 50 });
    const codes: string[] = [];
    client.on("retry", ({ error }) => codes.push(error.code));
    await client.emit({ event: "a", payload: {} });
    expect(codes).toEqual(["timeout"]);
    expect(sink.received).toHaveLength(2);
    expect(sink.received[1]!.events).toEqual(sink.received[0]!.events);
  });

  it("splits a batch the endpoint finds too large (413) and fails a single event that still is", async () => {
    const sink = bulkSink(server);
    sink.respond((request) => (request.events.length > 2 || request.events[0]!.event === "huge" ? problem(413) : created(request)));
    const client = make({ flushAt: 5, flushIntervalMs: 1000 });
    const receipts = ["a", "b", "c", "huge", "e"].map((event) => client.emit({ event, payload: {} }));
    const settled = await Promise.allSettled(receipts);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const keys = sink.received.map((r) => r.key);
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(sink.received.filter((r) => r.events.length <= 2 && r.events[0]!.event !== "huge").flatMap((r) => r.events.map((e) => e.event)))).toEqual(
      new Set(["a", "b", "c", "e"]),
    );
  });
});

describe("207 partial success", () => {
  it("resends only the retryable failed records, with the same ids, and rejects the permanent ones", async () => {
    const sink = bulkSink(server);
    sink.respond((request, i) => {
      if (i > 0) return created(request);
      const [a, , ] = request.events;
      return HttpResponse.json(
        {
          count: 1,
          error_count: 2,
          records: [
            storedOf(a!),
            { message: "storage busy", error: "internal_error" },
            { message: "payload.email is required", error: "validation_error" },
          ],
        },
        { status: 207 },
      );
    });
    const client = make({ flushIntervalMs: 5 });
    const receipts = [
      client.emit({ event: "ok", payload: { n: 1 } }),
      client.emit({ event: "busy", payload: { n: 2 } }),
      client.emit({ event: "bad", payload: { n: 3 } }),
    ];
    const [ok, busy, bad] = await Promise.allSettled(receipts);
    const [first, second] = sink.received;
    expect(sink.received).toHaveLength(2);
    expect(second!.events).toEqual([first!.events[1]]);
    expect(second!.key).not.toBe(first!.key);
    expect(ok).toEqual({ status: "fulfilled", value: storedOf(first!.events[0]!) });
    expect(busy).toEqual({ status: "fulfilled", value: storedOf(first!.events[1]!) });
    expect(bad).toMatchObject({ status: "rejected", reason: { message: "payload.email is required", code: "rejected", status: 207 } });
    expect(sink.stored.get(first!.events[0]!.id)).toBe(1);
    expect(sink.stored.get(first!.events[1]!.id)).toBe(1);
  });
});

describe("Retry-After", () => {
  it("waits the number of seconds it gives", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    sink.respond((request, i) => (i === 0 ? problem(429, { "Retry-After": "120" }) : created(request)));
    const client = make({ retry: { baseDelayMs: 1, maxDelayMs: 1 } });
    const delays: number[] = [];
    client.on("retry", ({ delayMs }) => delays.push(delayMs));
    const receipt = client.emit({ event: "a", payload: {} });
    await advance(1);
    expect(sink.received).toHaveLength(1);
    expect(delays).toEqual([120_000]);
    await advance(119_998);
    expect(sink.received).toHaveLength(1);
    await advance(2);
    expect(sink.received).toHaveLength(2);
    await receipt;
  });

  it("waits until the HTTP date it gives", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    const at = new Date(Date.now() + 1 + 30_000).toUTCString();
    sink.respond((request, i) => (i === 0 ? problem(503, { "Retry-After": at }) : created(request)));
    const client = make();
    const receipt = client.emit({ event: "a", payload: {} });
    await advance(1);
    expect(sink.received).toHaveLength(1);
    await advance(29_990);
    expect(sink.received).toHaveLength(1);
    await advance(20);
    expect(sink.received).toHaveLength(2);
    await receipt;
  });

  it("honours it only up to the cap (300 s by default)", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    sink.respond((request, i) => (i === 0 ? problem(503, { "Retry-After": "86400" }) : created(request)));
    const client = make();
    const delays: number[] = [];
    client.on("retry", ({ delayMs }) => delays.push(delayMs));
    const receipt = client.emit({ event: "a", payload: {} });
    await advance(1);
    expect(delays).toEqual([300_000]);
    await advance(299_998);
    expect(sink.received).toHaveLength(1);
    await advance(2);
    expect(sink.received).toHaveLength(2);
    await receipt;
  });
});

describe("giving up", () => {
  it("stops after maxAttempts and rejects with the last failure as cause", async () => {
    const sink = bulkSink(server);
    sink.respond(() => problem(503));
    const client = make({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    const failed: string[] = [];
    client.on("failed", ({ error }) => failed.push(error.code));
    const error = (await client.emit({ event: "a", payload: {} }).catch((e: unknown) => e)) as MeshworkDeliveryError;
    expect(error).toMatchObject({ code: "retries_exhausted", retryable: true, status: 503 });
    expect((error.cause as MeshworkDeliveryError).status).toBe(503);
    expect(sink.received).toHaveLength(3);
    expect(new Set(sink.received.map((r) => r.key)).size).toBe(1);
    expect(failed).toEqual(["retries_exhausted"]);
  });

  it("does not count failed probes against a batch: an outage longer than maxAttempts loses nothing", async () => {
    const sink = bulkSink(server);
    sink.respond((request, index) => (index < 12 ? problem(503) : created(request)));
    const client = make({ retry: { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 2 } });
    const receipt = await client.emit({ event: "a", payload: {} });
    expect(receipt.event).toBe("a");
    // Three failures open the circuit; then probes alone until the endpoint answers.
    expect(sink.received).toHaveLength(13);
    expect(new Set(sink.received.map((r) => r.key)).size).toBe(1);
  });

  it("stops once maxElapsedMs has passed since the first attempt", async () => {
    fakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(1);
    const sink = bulkSink(server);
    sink.respond(() => problem(500));
    const client = make({ retry: { maxAttempts: 100, baseDelayMs: 1000, maxDelayMs: 1000, maxElapsedMs: 5000 } });
    const receipt = client.emit({ event: "a", payload: {} });
    const outcome = receipt.catch((e: unknown) => e);
    await advance(10_000);
    expect(await outcome).toMatchObject({ code: "retries_exhausted" });
    expect(sink.received.length).toBeGreaterThanOrEqual(5);
    expect(sink.received.length).toBeLessThanOrEqual(6);
  });
});

describe("a sporadic failure", () => {
  it("backs off only the failed batch; the others keep flowing", async () => {
    fakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const sink = bulkSink(server);
    sink.respond((request, i) => (i === 0 ? problem(503) : created(request)));
    const client = make({ flushAt: 10, maxInFlight: 2, retry: { baseDelayMs: 1000, maxDelayMs: 1000 } });
    const receipts = Array.from({ length: 50 }, (_, i) => client.emit({ event: "n", payload: { i } }));
    await advance(0);
    expect(sink.received).toHaveLength(5);
    expect(new Set(sink.received.slice(1).flatMap((r) => r.events.map((e) => e.payload.i))).size).toBe(40);
    await advance(499);
    expect(sink.received).toHaveLength(5);
    await advance(1);
    expect(sink.received).toHaveLength(6);
    expect(sink.received[5]!.key).toBe(sink.received[0]!.key);
    await Promise.all(receipts);
  });
});

describe("endpoint down for a while, then back", () => {
  it("holds every batch behind one circuit, probes alone, then delivers everything exactly once", async () => {
    fakeTimers();
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    const sink = bulkSink(server);
    let down = true;
    sink.respond((request) => (down ? problem(503) : created(request)));
    const client = make({ flushAt: 10, maxInFlight: 4, retry: { baseDelayMs: 1000, maxDelayMs: 4000 } });
    const emitted: string[] = [];
    const receipts = Array.from({ length: 100 }, (_, i) => {
      const id = `evt_${String(i).padStart(3, "0")}`;
      emitted.push(id);
      return client.emit({ id, event: "order.placed", payload: { i } });
    });
    await advance(0);
    // Four go at once; the first two failures back off alone and free their slots for two more
    // batches; the third failure in a row opens the circuit, and nothing else is sent.
    expect(sink.received).toHaveLength(6);
    // Circuit delays with random() = 0.5: 500, 1000, 2000, 2000 ms; one probe per window.
    for (const [wait, total] of [
      [499, 6],
      [1, 7],
      [999, 7],
      [1, 8],
      [2000, 9],
      [2000, 10],
    ] as const) {
      await advance(wait);
      expect(sink.received).toHaveLength(total);
    }
    down = false;
    await advance(2000);
    const stored = await Promise.all(receipts);
    expect(stored.map((receipt) => receipt.id)).toEqual(emitted);
    expect(sink.received).toHaveLength(10 + 10);
    for (const id of emitted) expect(sink.stored.get(id)).toBe(1);
    // One Idempotency-Key per batch, carried by every retry of exactly that batch.
    const byKey = new Map<string, string[]>();
    for (const request of sink.received) {
      const ids = request.events.map((event) => event.id);
      const seen = byKey.get(request.key!);
      if (seen) expect(ids).toEqual(seen);
      else byKey.set(request.key!, ids);
    }
    expect(byKey.size).toBe(10);
    expect([...byKey.values()].flat().sort()).toEqual(emitted);
  });
});

import { HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createClient, MeshworkError, MeshworkValidationError, type MeshworkClient, type StoredEvent } from "./index.js";
import { bulkSink, created, ENDPOINT, gate, io, KEY, storedOf } from "./__fixtures__/sink.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  server.resetHandlers();
  vi.useRealTimers();
});
afterAll(() => server.close());

const clients: MeshworkClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close({ timeoutMs: 100 })));
});
const make = (options: Partial<Parameters<typeof createClient>[0]> = {}): MeshworkClient => {
  const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, ...options } as Parameters<typeof createClient>[0]);
  clients.push(client);
  return client;
};
const fakeTimers = () => vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
const advance = async (ms: number) => {
  await vi.advanceTimersByTimeAsync(ms);
  await io();
};
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("the wire protocol", () => {
  it("posts a bulk array with the contract headers and resolves with the stored record", async () => {
    const sink = bulkSink(server);
    const client = make({ headers: { "X-Request-Source": "test" }, flushIntervalMs: 5 });
    const receipt = await client.emit({
      event: "page.completed",
      resource: "onboarding_sequence",
      resource_id: "workspace-setup",
      payload: { user_id: "usr_5012", email: "alex@northstar.io", sequence_step: 3 },
    });
    expect(sink.received).toHaveLength(1);
    const [request] = sink.received;
    expect(request!.url).toBe(`${ENDPOINT}/api/v1/events/bulk`);
    expect(request!.headers).toMatchObject({
      "x-meshes-publishable-key": KEY,
      "content-type": "application/json",
      "x-request-source": "test",
    });
    expect(request!.key).toMatch(UUID_V7);
    expect(request!.events).toEqual([
      {
        id: expect.stringMatching(UUID_V7),
        event: "page.completed",
        resource: "onboarding_sequence",
        resource_id: "workspace-setup",
        payload: { user_id: "usr_5012", email: "alex@northstar.io", sequence_step: 3 },
      },
    ]);
    expect(receipt).toEqual(storedOf(request!.events[0]!));
  });

  it("keeps a caller's id and does not double an /api/v1 suffix on the endpoint", async () => {
    const sink = bulkSink(server);
    const client = make({ endpoint: `${ENDPOINT}/api/v1/`, flushIntervalMs: 5 });
    const receipt = await client.emit({ id: "evt_custom_1", event: "a.b", payload: {} });
    expect(receipt.id).toBe("evt_custom_1");
    expect(sink.received[0]!.url).toBe(`${ENDPOINT}/api/v1/events/bulk`);
    expect(sink.received[0]!.events[0]!.id).toBe("evt_custom_1");
  });

  it("refuses headers that would override the contract ones", () => {
    for (const name of ["X-Meshes-Publishable-Key", "content-type", "Idempotency-Key"]) {
      const attempt = () => createClient({ publishableKey: KEY, endpoint: ENDPOINT, headers: { [name]: "x" } });
      expect(attempt).toThrow(MeshworkValidationError);
      expect(attempt).toThrow(`headers.${name}`);
    }
  });

  it("validates its options", () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ endpoint: undefined }, "endpoint"],
      [{ engine: { ingest: async () => ({ count: 0, records: [] }) } }, "endpoint"],
      [{ flushAt: 101 }, "flushAt"],
      [{ flushAt: 0 }, "flushAt"],
      [{ maxInFlight: 0 }, "maxInFlight"],
      [{ overflow: "drop-everything" }, "overflow"],
      [{ publishableKey: "" }, "publishableKey"],
      [{ endpoint: "events.example.com" }, "endpoint"],
      [{ retry: { maxAttempts: 0 } }, "maxAttempts"],
    ];
    for (const [override, field] of bad) {
      try {
        createClient({ publishableKey: KEY, endpoint: ENDPOINT, ...override } as never);
        expect.unreachable(`accepted ${JSON.stringify(override)}`);
      } catch (error) {
        expect(MeshworkValidationError.isInstance(error)).toBe(true);
        expect((error as MeshworkValidationError).field).toBe(field);
      }
    }
  });

  it("sends each event's body as serialized at emit, once, even across retries", async () => {
    const sink = bulkSink(server);
    sink.respond((request, i) => (i === 0 ? new HttpResponse(null, { status: 503 }) : created(request)));
    const client = make({ flushIntervalMs: 1, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    let serialized = 0;
    const payload = { when: { toJSON: () => (serialized++, "2025-01-01") }, plan: "pro" };
    const receipt = client.emit({ event: "plan.changed", payload });
    payload.plan = "mutated after emit";
    await receipt;
    expect(serialized).toBe(1);
    expect(sink.received).toHaveLength(2);
    expect(sink.received.map((r) => r.events[0]!.payload)).toEqual([
      { when: "2025-01-01", plan: "pro" },
      { when: "2025-01-01", plan: "pro" },
    ]);
  });
});

describe("batching", () => {
  it("cuts batches at flushAt and sends the rest when the interval passes", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    const client = make({ flushAt: 10, flushIntervalMs: 1000 });
    const receipts = Array.from({ length: 25 }, (_, i) => client.emit({ event: "n", payload: { i } }));
    await advance(0);
    expect(sink.received.map((r) => r.events.length)).toEqual([10, 10]);
    await advance(998);
    expect(sink.received).toHaveLength(2);
    await advance(2);
    expect(sink.received.map((r) => r.events.length)).toEqual([10, 10, 5]);
    expect(sink.received.flatMap((r) => r.events.map((e) => e.payload.i))).toEqual(Array.from({ length: 25 }, (_, i) => i));
    await Promise.all(receipts);
  });

  it("never puts more than 100 events in one bulk request", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    const client = make();
    const receipts = Array.from({ length: 250 }, (_, i) => client.emit({ event: "n", payload: { i } }));
    await advance(0);
    expect(sink.received.map((r) => r.events.length)).toEqual([100, 100]);
    await advance(1000);
    expect(sink.received.map((r) => r.events.length)).toEqual([100, 100, 50]);
    await Promise.all(receipts);
  });

  it("cuts batches by serialized bytes", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    const event = (i: number) => ({ id: `evt_${String(i).padStart(4, "0")}`, event: "sized", payload: { pad: "x".repeat(200) } });
    const eventBytes = JSON.stringify(event(0)).length;
    // `[a,b,c]`: three events, two commas and the brackets fit exactly; a fourth does not.
    const maxBatchBytes = 3 * eventBytes + 2 + 2;
    const client = make({ maxBatchBytes, flushIntervalMs: 50 });
    const receipts = Array.from({ length: 10 }, (_, i) => client.emit(event(i)));
    await advance(0);
    expect(sink.received.map((r) => r.events.length)).toEqual([3, 3, 3]);
    await advance(50);
    expect(sink.received.map((r) => r.events.length)).toEqual([3, 3, 3, 1]);
    for (const request of sink.received) expect(JSON.stringify(request.events).length).toBeLessThanOrEqual(maxBatchBytes);
    expect(JSON.stringify(sink.received[0]!.events).length).toBe(maxBatchBytes);
    await Promise.all(receipts);
  });

  it("counts bytes as UTF-8", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    const event = (i: number) => ({ id: `evt_${i}`, event: "utf8", payload: { text: "é€😀".repeat(20) } });
    const eventBytes = Buffer.byteLength(JSON.stringify(event(0)));
    const client = make({ maxBatchBytes: 2 * eventBytes + 3, flushIntervalMs: 50 });
    const receipts = Array.from({ length: 4 }, (_, i) => client.emit(event(i)));
    await advance(0);
    expect(sink.received.map((r) => r.events.length)).toEqual([2, 2]);
    await Promise.all(receipts);
  });

  it("sends a partial batch flushIntervalMs after its first event, then starts a new interval", async () => {
    fakeTimers();
    const sink = bulkSink(server);
    const client = make({ flushIntervalMs: 1000 });
    const first = client.emit({ event: "a", payload: {} });
    await advance(600);
    const second = client.emit({ event: "b", payload: {} });
    await advance(399);
    expect(sink.received).toHaveLength(0);
    await advance(1);
    expect(sink.received.map((r) => r.events.map((e) => e.event))).toEqual([["a", "b"]]);
    await Promise.all([first, second]);
    const third = client.emit({ event: "c", payload: {} });
    await advance(999);
    expect(sink.received).toHaveLength(1);
    await advance(1);
    expect(sink.received).toHaveLength(2);
    await third;
  });

  it("keeps at most maxInFlight requests open: a burst waits for a free slot instead of opening more", async () => {
    const sink = bulkSink(server);
    let active = 0;
    let peak = 0;
    const hold = gate();
    sink.respond(async (request) => {
      active++;
      peak = Math.max(peak, active);
      await hold.promise;
      active--;
      return created(request);
    });
    const client = make({ flushAt: 10, maxInFlight: 2 });
    const receipts = Array.from({ length: 1000 }, (_, i) => client.emit({ event: "burst", payload: { i } }));
    await io(50);
    expect(sink.received).toHaveLength(2);
    hold.open();
    await Promise.all(receipts);
    expect(sink.received).toHaveLength(100);
    expect(peak).toBe(2);
    expect(new Set(sink.sentIds()).size).toBe(1000);
  });

  it("flush() sends at once and resolves when the events are delivered", async () => {
    const sink = bulkSink(server);
    const client = make({ flushIntervalMs: 60_000 });
    const delivered: string[] = [];
    client.on("delivered", ({ event }) => delivered.push(event.id));
    const receipts = [client.emit({ event: "a", payload: {} }), client.emit({ event: "b", payload: {} })];
    await client.flush();
    expect(sink.received).toHaveLength(1);
    expect(delivered).toHaveLength(2);
    await expect(Promise.all(receipts)).resolves.toHaveLength(2);
    await client.flush();
    expect(sink.received).toHaveLength(1);
  });

  it("emitAndFlush sends without waiting for the interval", async () => {
    const sink = bulkSink(server);
    const client = make({ flushIntervalMs: 60_000 });
    const receipt = await client.emitAndFlush({ event: "checkout.completed", payload: { total: 10 } });
    expect(receipt.event).toBe("checkout.completed");
    expect(sink.received).toHaveLength(1);
  });

  it("hands waitUntil one promise per busy period that settles once everything is sent", async () => {
    const sink = bulkSink(server);
    const handed: Array<Promise<unknown>> = [];
    const client = make({ flushIntervalMs: 5, waitUntil: (promise) => handed.push(promise) });
    void client.emit({ event: "a", payload: {} });
    void client.emit({ event: "b", payload: {} });
    expect(handed).toHaveLength(1);
    await handed[0];
    expect(sink.sentIds()).toHaveLength(2);
    void client.emit({ event: "c", payload: {} });
    expect(handed).toHaveLength(2);
    await handed[1];
    expect(sink.sentIds()).toHaveLength(3);
  });
});

describe("ids and listeners", () => {
  it("gives every event a distinct, time-ordered UUIDv7", async () => {
    const sink = bulkSink(server);
    const client = make({ flushAt: 100 });
    await Promise.all(Array.from({ length: 300 }, () => client.emit({ event: "x", payload: {} })));
    const ids = sink.sentIds();
    expect(new Set(ids).size).toBe(300);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect([...ids].sort()).toEqual(ids);
    const ms = parseInt(ids[0]!.replace(/-/g, "").slice(0, 12), 16);
    expect(Math.abs(ms - Date.now())).toBeLessThan(5000);
  });

  it("reports delivered events and stops after off()", async () => {
    bulkSink(server);
    const client = make({ flushIntervalMs: 1 });
    const seen: Array<{ id: string; receipt: StoredEvent }> = [];
    const listener = ({ event, receipt }: { event: { id: string }; receipt: StoredEvent }) => seen.push({ id: event.id, receipt });
    client.on("delivered", listener);
    client.on("delivered", () => {
      throw new Error("a throwing listener does not break delivery");
    });
    const receipt = await client.emit({ event: "a", payload: {} });
    expect(seen).toEqual([{ id: receipt.id, receipt }]);
    client.off("delivered", listener);
    await client.emit({ event: "b", payload: {} });
    expect(seen).toHaveLength(1);
  });

  it("throws a clear error on emit after close", async () => {
    const client = make();
    await client.close();
    expect(() => client.emit({ event: "late", payload: {} })).toThrow(/closed/);
    try {
      void client.emit({ event: "late", payload: {} });
    } catch (error) {
      expect(MeshworkError.isInstance(error)).toBe(true);
      expect((error as MeshworkError).code).toBe("client_closed");
    }
  });
});

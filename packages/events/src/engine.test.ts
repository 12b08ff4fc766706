import { setupServer } from "msw/node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type BulkResult, type EventsTransportTarget, type MeshworkError, type WireEvent } from "./index.js";
import { storedOf } from "./__fixtures__/sink.js";

// No handlers: any HTTP request from the in-process transport fails the test.
const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterAll(() => server.close());

const KEY = "mw_pub_engine";

/** A fake engine: records each ingest call and answers through `answer`. */
function fakeEngine(answer: (events: WireEvent[], call: number) => BulkResult | Promise<BulkResult> = (events) => ({
  count: events.length,
  records: events.map(storedOf),
})) {
  const calls: Array<{ events: WireEvent[]; publishableKey: string }> = [];
  const engine: EventsTransportTarget = {
    async ingest(events, { publishableKey }) {
      calls.push({ events, publishableKey });
      return answer(events, calls.length - 1);
    },
  };
  return { engine, calls };
}

describe("in-process transport", () => {
  it("hands batches to engine.ingest with the publishable key and resolves with its records", async () => {
    const { engine, calls } = fakeEngine();
    const client = createClient({ publishableKey: KEY, engine, flushAt: 2, flushIntervalMs: 5 });
    const payload = { email: "alex@northstar.io", nested: { step: 3 } };
    const receipts = [
      client.emit({ event: "page.completed", resource: "onboarding_sequence", payload }),
      client.emit({ event: "user.signup", payload: { email: "b@c.io" } }),
      client.emit({ id: "evt_mine", event: "user.signup", payload: { email: "d@e.io" } }),
    ];
    payload.nested.step = 99;
    const stored = await Promise.all(receipts);
    expect(calls.map((c) => c.events.length)).toEqual([2, 1]);
    expect(calls.every((c) => c.publishableKey === KEY)).toBe(true);
    expect(calls[0]!.events[0]).toEqual({
      id: stored[0]!.id,
      event: "page.completed",
      resource: "onboarding_sequence",
      payload: { email: "alex@northstar.io", nested: { step: 3 } },
    });
    expect(stored.map((s) => s.id)).toEqual([calls[0]!.events[0]!.id, calls[0]!.events[1]!.id, "evt_mine"]);
    expect(stored[2]).toEqual(storedOf(calls[1]!.events[0]!));
    expect(await client.close()).toEqual({ sent: 3, failed: 0, dropped: 0, pending: 0 });
  });

  it("applies the bulk rules to a partial answer: retryable records again, permanent ones rejected", async () => {
    const { engine, calls } = fakeEngine((events, call) =>
      call === 0
        ? {
            count: 1,
            error_count: 2,
            records: [storedOf(events[0]!), { message: "store busy", error: "internal_error" }, { message: "unknown workspace key", error: "auth_failed" }],
          }
        : { count: events.length, records: events.map(storedOf) },
    );
    const client = createClient({ publishableKey: KEY, engine, flushIntervalMs: 1, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    const results = await Promise.allSettled(["a", "b", "c"].map((event) => client.emit({ event, payload: {} })));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ message: "unknown workspace key", code: "rejected" });
    expect(calls[1]!.events).toEqual([calls[0]!.events[1]]);
    await client.close();
  });

  it("retries when ingest throws, unless the error says it is not retryable", async () => {
    let failOnce = true;
    const flaky: EventsTransportTarget = {
      async ingest(events) {
        if (failOnce) {
          failOnce = false;
          throw new Error("SQLITE_BUSY");
        }
        return { count: events.length, records: events.map(storedOf) };
      },
    };
    const client = createClient({ publishableKey: KEY, engine: flaky, flushIntervalMs: 1, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    const retried: string[] = [];
    client.on("retry", ({ error }) => retried.push(error.message));
    await client.emit({ event: "a", payload: {} });
    expect(retried).toEqual(["engine.ingest failed: SQLITE_BUSY"]);
    await client.close();

    const refusing: EventsTransportTarget = {
      ingest: () => Promise.reject(Object.assign(new Error("unknown publishable key"), { code: "auth_failed", retryable: false })),
    };
    const strict = createClient({ publishableKey: KEY, engine: refusing, flushIntervalMs: 1 });
    const error = (await strict.emit({ event: "a", payload: {} }).catch((e: unknown) => e)) as MeshworkError;
    expect(error).toMatchObject({ code: "rejected", retryable: false });
    expect((error.cause as Error).message).toBe("unknown publishable key");
    await strict.close();
  });

  it("gives up waiting for an ingest that never answers after timeoutMs and retries", async () => {
    let calls = 0;
    const slow: EventsTransportTarget = {
      ingest(events) {
        calls++;
        if (calls === 1) return new Promise(() => undefined);
        return Promise.resolve({ count: events.length, records: events.map(storedOf) });
      },
    };
    const client = createClient({ publishableKey: KEY, engine: slow, flushIntervalMs: 1, timeoutMs: 30, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    await client.emit({ event: "a", payload: {} });
    expect(calls).toBe(2);
    await client.close();
  });
});

import { delay, http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  EventsClient,
  MeshesEventsClient,
  MeshworkDeliveryError,
  MeshworkValidationError,
  type BulkResult,
  type CreateEventResult,
  type MeshworkError,
  type WireEvent,
} from "./index.js";
import { storedOf } from "./__fixtures__/sink.js";

const BASE = "https://api.meshes.test/api/v1";
const MESH_KEY = "mesh_pub_abc.def_ghi-jkl_asdf123";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

interface Seen {
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

function endpoint(answer?: (path: string, body: unknown) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const handle = async ({ request }: { request: Request }) => {
    const body = (await request.json()) as unknown;
    const path = new URL(request.url).pathname;
    seen.push({ path, headers: Object.fromEntries(request.headers), body });
    if (answer) return answer(path, body);
    if (Array.isArray(body)) {
      return HttpResponse.json({ count: body.length, records: (body as WireEvent[]).map(storedOf) }, { status: 201 });
    }
    return HttpResponse.json({ event: storedOf(body as WireEvent) }, { status: 201 });
  };
  server.use(http.post(`${BASE}/events`, handle), http.post(`${BASE}/events/bulk`, handle));
  return seen;
}

describe("EventsClient construction", () => {
  it("accepts mesh_pub_… and mw_pub_… keys and refuses anything else", () => {
    expect(() => new EventsClient(MESH_KEY)).not.toThrow();
    expect(() => new EventsClient("mw_pub_01HXYZ")).not.toThrow();
    for (const key of ["", "sk_live_123", "mesh_sec_abc", "mw_pub_", undefined]) {
      expect(() => new EventsClient(key as string)).toThrow(MeshworkValidationError);
    }
  });

  it("checks the timeout range, the version and the contract headers", () => {
    expect(() => new EventsClient(MESH_KEY, { timeout: 999 })).toThrow(/options\.timeout/);
    expect(() => new EventsClient(MESH_KEY, { timeout: 30_001 })).toThrow(/options\.timeout/);
    expect(() => new EventsClient(MESH_KEY, { version: "v2" as "v1" })).toThrow(/options\.version/);
    for (const name of ["X-Meshes-Publishable-Key", "Content-Type", "idempotency-key"]) {
      expect(() => new EventsClient(MESH_KEY, { headers: { [name]: "x" } })).toThrow(`options.headers.${name}`);
    }
  });

  it("is also exported under the @mesheshq/events class name", () => {
    expect(MeshesEventsClient).toBe(EventsClient);
  });
});

describe("EventsClient.emit", () => {
  it("posts one event to {apiBaseUrl}/events with the contract headers and resolves with { event }", async () => {
    const seen = endpoint();
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: `${BASE}/`, headers: { "X-Request-Id": "req_1" } });
    const result = await client.emit({ event: "user.signed_up", payload: { email: "a@b.com" } });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.path).toBe("/api/v1/events");
    expect(seen[0]!.headers).toMatchObject({
      "x-meshes-publishable-key": MESH_KEY,
      "content-type": "application/json",
      "x-request-id": "req_1",
    });
    expect(seen[0]!.body).toEqual({ id: expect.any(String), event: "user.signed_up", payload: { email: "a@b.com" } });
    expect(result).toEqual({ event: storedOf(seen[0]!.body as WireEvent) });
  });

  it("drops contract headers given per request and keeps the others", async () => {
    const seen = endpoint();
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    await client.emit(
      { event: "x", payload: { email: "a@b.com" } },
      { headers: { "X-Meshes-Publishable-Key": "mesh_pub_other_key_x", "Content-Type": "text/plain", "Idempotency-Key": "mine", "X-Trace": "t1" } },
    );
    expect(seen[0]!.headers["x-meshes-publishable-key"]).toBe(MESH_KEY);
    expect(seen[0]!.headers["content-type"]).toBe("application/json");
    expect(seen[0]!.headers["idempotency-key"]).toBeUndefined();
    expect(seen[0]!.headers["x-trace"]).toBe("t1");
  });

  it("calls back (null, result) and returns undefined in callback style", async () => {
    endpoint();
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    const result = await new Promise<CreateEventResult | undefined>((resolve, reject) => {
      const returned = client.emit({ event: "x", payload: {} }, {}, (error, data) => (error ? reject(error) : resolve(data)));
      expect(returned).toBeUndefined();
    });
    expect(result?.event.event).toBe("x");
  });

  it("rejects (or calls back) with a MeshworkDeliveryError carrying status and body", async () => {
    endpoint(() => HttpResponse.json({ message: "Invalid publishable key" }, { status: 401, statusText: "Unauthorized" }));
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    const error = (await client.emit({ event: "x", payload: {} }).catch((e: unknown) => e)) as MeshworkDeliveryError;
    expect(MeshworkDeliveryError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "rejected", status: 401, retryable: false });
    expect(error.data).toEqual({ status: 401, statusText: "Unauthorized", data: { message: "Invalid publishable key" } });
    const viaCallback = await new Promise<MeshworkError | null>((resolve) => {
      client.emit({ event: "x", payload: {} }, undefined, (e) => resolve(e));
    });
    expect(viaCallback).toMatchObject({ status: 401 });
  });

  it("times out after `timeout` ms", async () => {
    endpoint(async () => {
      await delay("infinite");
      return new HttpResponse(null, { status: 201 });
    });
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE, timeout: 5000 });
    const error = await client.emit({ event: "x", payload: {} }, { timeout: 1000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "timeout", retryable: true });
  });

  it("validates the event synchronously, in both styles", () => {
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    expect(() => client.emit({ event: "", payload: {} })).toThrow(MeshworkValidationError);
    expect(() => client.emit({ event: "x", payload: [] as never }, {}, () => undefined)).toThrow(/payload/);
  });
});

describe("EventsClient.emitBatch", () => {
  const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ event: "user.signed_up", payload: { email: `u${i}@b.com` } }));

  it("posts 1–100 events to /events/bulk with an Idempotency-Key", async () => {
    const seen = endpoint();
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    const result = await client.emitBatch(batch(100));
    expect(seen[0]!.path).toBe("/api/v1/events/bulk");
    expect(seen[0]!.body).toHaveLength(100);
    expect(seen[0]!.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.count).toBe(100);
    expect(result.records.map((r) => (r as { id: string }).id)).toEqual((seen[0]!.body as WireEvent[]).map((e) => e.id));
  });

  it("refuses an empty batch, more than 100 events, or a non-array with a clear error", () => {
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    expect(() => client.emitBatch([])).toThrow("events: a batch holds 1 to 100 events, got 0");
    expect(() => client.emitBatch(batch(101))).toThrow("events: a batch holds 1 to 100 events, got 101");
    expect(() => client.emitBatch({} as never)).toThrow(MeshworkValidationError);
  });

  it("names the bad event of a batch", () => {
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    const events = [...batch(2), { event: "x", payload: { n: 1n } }];
    try {
      void client.emitBatch(events as never);
      expect.unreachable();
    } catch (error) {
      expect((error as MeshworkValidationError).field).toBe("events[2].payload.n");
    }
  });

  it("resolves with the 207 body, and calls back with it", async () => {
    const body: BulkResult = { count: 1, error_count: 1, records: [{ id: "e1", event: "a" }, { message: "bad", error: "validation_error" }] };
    endpoint(() => HttpResponse.json(body, { status: 207 }));
    const client = new EventsClient(MESH_KEY, { apiBaseUrl: BASE });
    await expect(client.emitBatch(batch(2))).resolves.toEqual(body);
    const viaCallback = await new Promise((resolve) => {
      client.emitBatch(batch(2), {}, (error, data) => resolve(error ?? data));
    });
    expect(viaCallback).toEqual(body);
  });
});

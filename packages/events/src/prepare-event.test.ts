import { createRequire } from "node:module";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, MeshworkError, MeshworkValidationError, type StandardSchemaV1 } from "./index.js";
import { byteLength, idOf, prepareEvent } from "./prepare-event.js";
import { bulkSink, ENDPOINT, KEY } from "./__fixtures__/sink.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const options = { maxPayloadBytes: 32 * 1024 };

function validationError(run: () => unknown): MeshworkValidationError {
  try {
    run();
  } catch (error) {
    expect(MeshworkValidationError.isInstance(error)).toBe(true);
    return error as MeshworkValidationError;
  }
  return expect.unreachable("no error thrown");
}

describe("validation", () => {
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const sparse = { list: [1, { deep: { fn: () => 1 } }] };

  it.each<[string, unknown, string, string]>([
    ["no event object", null, "event", "invalid_event"],
    ["an array as event", [], "event", "invalid_event"],
    ["a missing event name", { payload: {} }, "event", "invalid_event"],
    ["an empty event name", { event: "", payload: {} }, "event", "invalid_event"],
    ["a blank event name", { event: "   ", payload: {} }, "event", "invalid_event"],
    ["a numeric event name", { event: 42, payload: {} }, "event", "invalid_event"],
    ["a missing payload", { event: "a" }, "payload", "invalid_payload"],
    ["a null payload", { event: "a", payload: null }, "payload", "invalid_payload"],
    ["an array payload", { event: "a", payload: [1] }, "payload", "invalid_payload"],
    ["a string payload", { event: "a", payload: "{}" }, "payload", "invalid_payload"],
    ["a class instance payload", { event: "a", payload: new Map() }, "payload", "invalid_payload"],
    ["a Date payload", { event: "a", payload: new Date() }, "payload", "invalid_payload"],
    ["a BigInt", { event: "a", payload: { amount: 10n } }, "payload.amount", "non_json_value"],
    ["a cycle", { event: "a", payload: cycle }, "payload.self", "non_json_value"],
    ["a function", { event: "a", payload: { onDone: () => 1 } }, "payload.onDone", "non_json_value"],
    ["a symbol", { event: "a", payload: { tag: Symbol("x") } }, "payload.tag", "non_json_value"],
    ["a function deep in an array", { event: "a", payload: sparse }, "payload.list[1].deep.fn", "non_json_value"],
    ["an odd key", { event: "a", payload: { "first name": 1n } }, 'payload["first name"]', "non_json_value"],
    ["a non-string resource", { event: "a", payload: {}, resource: 1 }, "resource", "invalid_event"],
    ["a non-string resource_id", { event: "a", payload: {}, resource_id: 7 }, "resource_id", "invalid_event"],
    ["an empty id", { event: "a", payload: {}, id: "" }, "id", "invalid_event"],
  ])("names the field for %s", (_, input, field, code) => {
    const error = validationError(() => prepareEvent(input, options));
    expect(error.field).toBe(field);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(false);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    expect((error as unknown as Record<symbol, unknown>)[Symbol.for("meshwork.error")]).toBe(true);
    expect(MeshworkError.isInstance(error)).toBe(true);
  });

  it("rejects a payload over the size limit, 32 KB by default and configurable", () => {
    const big = { event: "a", payload: { blob: "x".repeat(32 * 1024) } };
    expect(validationError(() => prepareEvent(big, options))).toMatchObject({ field: "payload", code: "payload_too_large" });
    expect(() => prepareEvent(big, { maxPayloadBytes: 64 * 1024 })).not.toThrow();
    const multibyte = { event: "a", payload: { text: "€".repeat(4000) } };
    const bytes = Buffer.byteLength(JSON.stringify(multibyte.payload));
    expect(bytes).toBeGreaterThan(10_000);
    expect(JSON.stringify(multibyte.payload).length).toBeLessThan(10_000);
    expect(validationError(() => prepareEvent(multibyte, { maxPayloadBytes: 10_000 })).message).toContain(`${bytes} bytes`);
  });

  it("counts the payload's own bytes against the limit, whatever the id, resource and event name around it", () => {
    const payload = { text: "é€😀 ".repeat(50) };
    const limit = Buffer.byteLength(JSON.stringify(payload));
    const shapes = [
      { event: "a", payload },
      { event: "ünïcode.event", payload },
      { id: "ïd-€", event: "a", resource: "réssource", resource_id: "😀-1", payload },
      { event: "a", resource_id: "r1", payload },
    ];
    for (const shape of shapes) {
      const prepared = prepareEvent(shape, { maxPayloadBytes: limit });
      expect(prepared.bytes).toBe(Buffer.byteLength(prepared.body));
      expect(JSON.parse(prepared.body)).toEqual({ id: idOf(prepared), ...shape });
      expect(validationError(() => prepareEvent(shape, { maxPayloadBytes: limit - 1 })).message).toContain(`${limit} bytes`);
    }
  });

  it("reads a generated id from the body, and keeps a given one", () => {
    const prepared = prepareEvent({ event: "a", payload: {} }, options);
    const { body } = prepared;
    const id = idOf(prepared);
    expect(prepared.id).toBeUndefined();
    expect(idOf(prepareEvent({ id: "given-1", event: "a", payload: {} }, options))).toBe("given-1");
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.parse(body)).toEqual({ id, event: "a", payload: {} });
  });

  it("accepts what JSON accepts, dropping undefined as JSON does", () => {
    const { body } = prepareEvent(
      { id: "e1", event: "a", payload: { list: [1, undefined, "x"], nothing: undefined, when: new Date(0), nested: { ok: true } } },
      options,
    );
    expect(JSON.parse(body)).toEqual({ id: "e1", event: "a", payload: { list: [1, null, "x"], when: "1970-01-01T00:00:00.000Z", nested: { ok: true } } });
    const shared = { a: 1 };
    expect(() => prepareEvent({ event: "a", payload: { x: shared, y: shared } }, options)).not.toThrow();
    expect(() => prepareEvent({ event: "a", payload: Object.create(null) as object }, options)).not.toThrow();
  });

  it("measures UTF-8 bytes", () => {
    const long = "é€😀 x".repeat(40_000); // longer than the encoder's reused buffer
    for (const text of ["", "plain", "é", "€", "😀", "mixed é€😀 text", long]) expect(byteLength(text)).toBe(Buffer.byteLength(text));
  });

  it("throws from emit without queueing anything or opening a request", async () => {
    const sink = bulkSink(server);
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, flushIntervalMs: 1 });
    expect(() => client.emit({ event: "", payload: {} })).toThrow(MeshworkValidationError);
    expect(() => client.emit({ event: "a", payload: { n: 1n } })).toThrow("payload.n");
    expect(await client.close()).toEqual({ sent: 0, failed: 0, dropped: 0, pending: 0 });
    expect(sink.received).toHaveLength(0);
  });

  it("refuses an event larger than maxBatchBytes", () => {
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, maxBatchBytes: 200 });
    expect(() => client.emit({ event: "a", payload: { text: "x".repeat(300) } })).toThrow(/maxBatchBytes/);
    void client.close();
  });
});

describe("schemas", () => {
  const emailSchema: StandardSchemaV1<{ email: string }, { email: string }> = {
    "~standard": {
      version: 1,
      vendor: "test",
      validate(value) {
        const email = (value as { email?: unknown }).email;
        if (typeof email !== "string" || !email.includes("@")) return { issues: [{ message: "must be an email", path: [{ key: "email" }] }] };
        return { value: { email: email.toLowerCase() } };
      },
    },
  };

  it("checks a payload against the event's Standard Schema at emit and sends the validated output", async () => {
    const sink = bulkSink(server);
    const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, flushIntervalMs: 1, schemas: { "user.signup": emailSchema } });
    const error = validationError(() => client.emit({ event: "user.signup", payload: { email: "nope" } }));
    expect(error).toMatchObject({ field: "payload.email", code: "schema_mismatch" });
    expect(error.message).toBe("payload.email: must be an email");
    await client.emit({ event: "user.signup", payload: { email: "ALEX@Northstar.io" } });
    await client.emit({ event: "other.event", payload: { anything: true } });
    expect(sink.received.flatMap((r) => r.events.map((e) => e.payload))).toEqual([{ email: "alex@northstar.io" }, { anything: true }]);
    await client.close();
  });

  it("turns a schema that throws into a validation error", () => {
    const broken: StandardSchemaV1 = {
      "~standard": {
        version: 1,
        vendor: "test",
        validate: () => {
          throw new Error("bug in schema");
        },
      },
    };
    const error = validationError(() => prepareEvent({ event: "a", payload: {} }, { ...options, schemas: { a: broken } }));
    expect(error).toMatchObject({ field: "payload", code: "schema_error" });
    expect((error.cause as Error).message).toBe("bug in schema");
  });

  it("refuses an asynchronous schema", () => {
    const asyncSchema: StandardSchemaV1 = { "~standard": { version: 1, vendor: "test", validate: async (value) => ({ value }) } };
    const error = validationError(() => prepareEvent({ event: "a", payload: {} }, { ...options, schemas: { a: asyncSchema } }));
    expect(error).toMatchObject({ field: "payload", code: "async_schema" });
  });

  // zod is not a dependency of this package; use the workspace's copy when one is installed.
  const zodPath = (() => {
    try {
      return createRequire(new URL("../../destination-kit/package.json", import.meta.url)).resolve("zod");
    } catch {
      return undefined;
    }
  })();

  it.skipIf(!zodPath)("works with zod 4 schemas", async () => {
    const { z } = (await import(zodPath!)) as { z: any };
    const schema = z.object({ email: z.email(), plan: z.enum(["free", "pro"]).default("free") });
    const { body } = prepareEvent({ id: "e", event: "user.signup", payload: { email: "a@b.io" } }, { ...options, schemas: { "user.signup": schema } });
    expect(JSON.parse(body).payload).toEqual({ email: "a@b.io", plan: "free" });
    const error = validationError(() => prepareEvent({ event: "user.signup", payload: { email: "x", plan: "pro" } }, { ...options, schemas: { "user.signup": schema } }));
    expect(error.field).toBe("payload.email");
  });
});

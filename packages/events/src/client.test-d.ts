import { describe, expectTypeOf, it } from "vitest";
import {
  createClient,
  EventsClient,
  type BulkResult,
  type CloseReport,
  type CreateEventResult,
  type EventsTransportTarget,
  type MeshworkClient,
  type StoredEvent,
  type WireEvent,
} from "./index.js";

interface AppEvents {
  "user.signup": { email: string; plan?: "free" | "pro" };
  "page.completed": { user_id: string; sequence_step: number };
}

declare const engine: EventsTransportTarget;

describe("typed events", () => {
  const meshwork = createClient<AppEvents>({ publishableKey: "mw_pub_x", endpoint: "https://events.example.com" });

  it("accepts known names with their payloads", () => {
    expectTypeOf(meshwork).toEqualTypeOf<MeshworkClient<AppEvents>>();
    expectTypeOf(meshwork.emit({ event: "user.signup", payload: { email: "a@b.io" } })).toEqualTypeOf<Promise<StoredEvent>>();
    void meshwork.emit({ event: "page.completed", resource: "onboarding_sequence", payload: { user_id: "u", sequence_step: 3 } });
    void meshwork.emitAndFlush({ event: "user.signup", payload: { email: "a@b.io", plan: "pro" } });
  });

  it("rejects unknown names and wrong payloads at compile time", () => {
    // @ts-expect-error: not an event of AppEvents
    void meshwork.emit({ event: "user.deleted", payload: { email: "a@b.io" } });
    // @ts-expect-error: email must be a string
    void meshwork.emit({ event: "user.signup", payload: { email: 42 } });
    // @ts-expect-error: sequence_step is missing
    void meshwork.emit({ event: "page.completed", payload: { user_id: "u" } });
    // @ts-expect-error: a payload of another event
    void meshwork.emit({ event: "user.signup", payload: { user_id: "u", sequence_step: 1 } });
    // @ts-expect-error: plan is a closed union
    void meshwork.emit({ event: "user.signup", payload: { email: "a@b.io", plan: "enterprise" } });
    const name: string = "user.signup";
    // @ts-expect-error: a plain string is not a known name
    void meshwork.emit({ event: name, payload: { email: "a@b.io" } });
  });

  it("checks schema keys against the event map", () => {
    const schema = { "~standard": { version: 1 as const, vendor: "x", validate: (value: unknown) => ({ value }) } };
    createClient<AppEvents>({ publishableKey: "k", endpoint: "https://e.x", schemas: { "user.signup": schema } });
    // @ts-expect-error: no such event
    createClient<AppEvents>({ publishableKey: "k", endpoint: "https://e.x", schemas: { "user.gone": schema } });
  });
});

describe("untyped client", () => {
  it("takes any event name and object payload", () => {
    const meshwork = createClient({ publishableKey: "k", engine });
    void meshwork.emit({ event: "anything.at.all", payload: { nested: { ok: true } } });
    // @ts-expect-error: payload must be an object
    void meshwork.emit({ event: "x", payload: "text" });
    // @ts-expect-error: the event name is required
    void meshwork.emit({ payload: {} });
  });

  it("types close, flush and listeners", () => {
    const meshwork = createClient({ publishableKey: "k", endpoint: "https://e.x" });
    expectTypeOf(meshwork.close({ timeoutMs: 5000 })).toEqualTypeOf<Promise<CloseReport>>();
    expectTypeOf(meshwork.flush()).toEqualTypeOf<Promise<void>>();
    meshwork.on("dropped", ({ event, reason }) => {
      expectTypeOf(event).toEqualTypeOf<WireEvent>();
      expectTypeOf(reason).toEqualTypeOf<"queue_full">();
    });
    meshwork.on("delivered", ({ receipt }) => expectTypeOf(receipt).toEqualTypeOf<StoredEvent>());
    // @ts-expect-error: no such client event
    meshwork.on("exploded", () => undefined);
  });

  it("needs exactly one of endpoint or engine", () => {
    // @ts-expect-error: both
    createClient({ publishableKey: "k", endpoint: "https://e.x", engine });
    // @ts-expect-error: headers only make sense over HTTP
    createClient({ publishableKey: "k", engine, headers: { a: "b" } });
  });
});

describe("in-process transport target", () => {
  it("is satisfied structurally by an engine-like class", () => {
    class FakeEngine {
      async ingest(events: Array<{ id?: string; event: string; payload: Record<string, unknown> }>, _options: { publishableKey: string }) {
        return {
          count: events.length,
          records: events.map((e) => ({ id: e.id ?? "x", event: e.event, workspace: "w", created_at: "t", payload: e.payload })),
        };
      }
      async drain() {}
    }
    createClient({ publishableKey: "k", engine: new FakeEngine() });
    const partial: EventsTransportTarget = {
      ingest: async (): Promise<BulkResult> => ({ count: 0, error_count: 1, records: [{ message: "bad", error: "validation_error" }] }),
    };
    createClient({ publishableKey: "k", engine: partial });
    // @ts-expect-error: ingest must answer the bulk body
    createClient({ publishableKey: "k", engine: { ingest: async () => "ok" } });
  });
});

describe("EventsClient", () => {
  const client = new EventsClient("mesh_pub_a_b_c", { apiBaseUrl: "https://api.example.com/api/v1", timeout: 5000, debug: false });

  it("returns a promise without a callback and undefined with one", () => {
    expectTypeOf(client.emit({ event: "x", payload: {} })).toEqualTypeOf<Promise<CreateEventResult>>();
    expectTypeOf(client.emit({ event: "x", payload: {} }, {}, () => undefined)).toEqualTypeOf<undefined>();
    expectTypeOf(client.emitBatch([{ event: "x", payload: {} }])).toEqualTypeOf<Promise<BulkResult>>();
    client.emitBatch([{ event: "x", payload: {} }], undefined, (error, result) => {
      expectTypeOf(result).toEqualTypeOf<BulkResult | undefined>();
      expectTypeOf(error?.code).toEqualTypeOf<string | undefined>();
    });
  });
});

import type { EventsTransportTarget } from "@meshwork/events";
import { describe, expectTypeOf, it } from "vitest";
import {
  createEngine,
  defineConfig,
  env,
  memoryStore,
  sqliteStore,
  type Delivery,
  type Engine,
  type EventDetail,
  type IngestResult,
  type MeshworkConfig,
  type Page,
  type EventSummary,
  type EngineEvents,
  type Store,
} from "./index.js";

describe("@meshwork/rules types", () => {
  it("the engine is the in-process transport of @meshwork/events, structurally", () => {
    expectTypeOf<Engine>().toExtend<EventsTransportTarget>();
    expectTypeOf<Engine["ingest"]>().returns.resolves.toEqualTypeOf<IngestResult>();
  });

  it("defineConfig checks the Meshes rule shape and returns a config", () => {
    const config = defineConfig({
      workspaces: [{ id: "w", name: "W", environment: "production", publishableKeys: ["mw_pub_0123456789"] }],
      connections: [{ id: "c", workspace: "w", type: "hubspot", name: "H", mode: "live", credentials: { accessToken: env("T") } }],
      rules: [{ id: "r", workspace: "w", connection: "c", event: "e", metadata: { action: "add_to_list", id: "7" } }],
    });
    expectTypeOf(config).toEqualTypeOf<MeshworkConfig>();
    // @ts-expect-error: a rule needs metadata.action
    defineConfig({ workspaces: [], connections: [], rules: [{ id: "r", workspace: "w", connection: "c", event: "e", metadata: {} }] });
    // @ts-expect-error: environments are a closed set
    defineConfig({ workspaces: [{ id: "w", name: "W", environment: "prod", publishableKeys: [] }], connections: [], rules: [] });
  });

  it("stores are Stores and history is typed", () => {
    expectTypeOf(memoryStore()).toEqualTypeOf<Store>();
    expectTypeOf(sqliteStore({ path: ":memory:" })).toEqualTypeOf<Store>();
    expectTypeOf(createEngine).parameter(0).toHaveProperty("store").toEqualTypeOf<Store | undefined>();
    expectTypeOf<Engine["events"]["list"]>().returns.resolves.toEqualTypeOf<Page<EventSummary>>();
    expectTypeOf<Engine["events"]["get"]>().returns.resolves.toEqualTypeOf<EventDetail | undefined>();
    expectTypeOf<Engine["retry"]>().returns.resolves.toEqualTypeOf<Delivery>();
    expectTypeOf<EngineEvents["delivery"]>().parameter(0).toEqualTypeOf<Delivery>();
  });
});

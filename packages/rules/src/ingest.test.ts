import { afterEach, describe, expect, it } from "vitest";
import { createClient, type EventsTransportTarget } from "@meshwork/events";
import { createEngine, memoryStore, MeshworkRulesError, type Engine } from "./index.js";
import type { Store } from "./types.js";
import { KEY_A, KEY_B, acmeConnection, config, noteRule, pageCompleted, payload } from "./__fixtures__/config.js";
import { acme, type AcmeSnapshot } from "./__fixtures__/destinations.js";
import { startEngine } from "./__fixtures__/engine.js";

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop({ timeoutMs: 100 })));
});
async function harness(...args: Parameters<typeof startEngine>) {
  const h = await startEngine(...args);
  engines.push(h.engine);
  return h;
}

describe("ingest", () => {
  it("answers the Meshes bulk body: one stored record per event, in order", async () => {
    const { engine, clock } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    const result = await engine.ingest([pageCompleted("e1"), { event: "user.signup", payload: { email: "sam@northstar.io" } }], { publishableKey: KEY_A });
    const at = new Date(clock.now()).toISOString();
    expect(result).toEqual({
      count: 2,
      records: [
        { id: "e1", type: "event", event: "page.completed", workspace: "acme-prod", created_by: "publishable_key:mw_pub_acme_…", created_at: at, resource: "onboarding_sequence", resource_id: "workspace-setup" },
        { id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), type: "event", event: "user.signup", workspace: "acme-prod", created_by: "publishable_key:mw_pub_acme_…", created_at: at, resource: null, resource_id: null },
      ],
    });
  });

  it("accepts the valid records of a batch and names the field of each malformed one", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    const result = await engine.ingest(
      [
        pageCompleted("ok1"),
        { event: "", payload },
        { event: "page.completed" },
        { event: "page.completed", payload: [1, 2] },
        null,
        { id: 42, event: "page.completed", payload },
        { event: "page.completed", payload, resource: 5 },
        { event: "page.completed", payload, workspace: "beta-prod" },
        pageCompleted("ok2"),
      ] as never,
      { publishableKey: KEY_A },
    );
    expect(result.count).toBe(2);
    expect(result.error_count).toBe(7);
    expect(result.records.map((r) => ("message" in r ? r.message : r.id))).toEqual([
      "ok1",
      "event: must be a non-empty string",
      "payload: is required (an object)",
      "payload: must be an object, got an array",
      "(event): must be an event object { event, payload, resource?, resource_id?, id? }",
      "id: must be a non-empty string of at most 256 characters",
      "resource: must be a non-empty string of at most 256 characters, or left out",
      "workspace: does not match the workspace of the publishable key",
      "ok2",
    ]);
    expect(result.records[2]).toEqual({ message: "payload: is required (an object)", error: "invalid_event", field: "payload", retryable: false });
    await engine.drain({ advanceClock: true });
    expect(sim("c1").snapshot().notes).toHaveLength(2);
  });

  it("throws a typed error for an unknown publishable key, and before start", async () => {
    const { engine } = await harness({ connections: [], rules: [] });
    const error = await engine.ingest([pageCompleted("e1")], { publishableKey: "mw_pub_nobody_0123456789" }).catch((e: unknown) => e);
    expect(MeshworkRulesError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ code: "unknown_publishable_key", retryable: false });
    expect((error as Error).message).toMatch(/^publishable key "mw_pub_nobod…" does not belong to any workspace/);

    const idle = createEngine({ config: config([], []), destinations: [acme()] });
    await expect(idle.ingest([pageCompleted("e1")], { publishableKey: KEY_A })).rejects.toMatchObject({ code: "engine_not_started", retryable: true });
  });

  it("returns the original record for an event id seen before and makes no new deliveries", async () => {
    const { engine, sim, clock } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1"), noteRule("r2", "c1")] });
    const first = await engine.ingest([pageCompleted("e1")], { publishableKey: KEY_A });
    await engine.drain({ advanceClock: true });
    clock.advance(3_600_000);
    const again = await engine.ingest([pageCompleted("e1", { sequence_step: 9 }), pageCompleted("e1")], { publishableKey: KEY_A });
    expect(again.records).toEqual([first.records[0], first.records[0]]);
    await engine.drain({ advanceClock: true });
    expect(sim("c1").snapshot().notes).toHaveLength(2);
    const detail = await engine.events.get("e1");
    expect(detail!.deliveries).toHaveLength(2);
    expect(detail!.payload).toMatchObject({ sequence_step: 3 });
  });

  it("acknowledges only after the event and its deliveries are stored", async () => {
    const base = memoryStore();
    const order: string[] = [];
    const slow: Store = {
      ...base,
      insertEvents: async (items) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        const result = await base.insertEvents(items);
        order.push("stored");
        return result;
      },
    };
    const { engine } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")], store: slow });
    await engine.ingest([pageCompleted("e1")], { publishableKey: KEY_A });
    order.push("acknowledged");
    expect(order).toEqual(["stored", "acknowledged"]);
    expect((await engine.events.get("e1"))!.deliveries).toHaveLength(1);
  });

  it("is the in-process transport of the @meshwork/events client", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    const target: EventsTransportTarget = engine;
    const client = createClient({ publishableKey: KEY_A, engine: target, flushIntervalMs: 0 });
    const receipt = await client.emit({ event: "page.completed", payload, id: "from-client" });
    expect(receipt).toMatchObject({ id: "from-client", type: "event", workspace: "acme-prod" });
    await client.close({ timeoutMs: 1000 });
    await engine.drain({ advanceClock: true });
    expect(sim("c1").snapshot().notes).toHaveLength(1);
  });
});

describe("matching", () => {
  it("matches the event name, resource, resource_id, `when`, and only active rules", async () => {
    const { engine } = await harness({
      connections: [acmeConnection("c1")],
      rules: [
        noteRule("any", "c1"),
        noteRule("resource", "c1", { resource: "onboarding_sequence" }),
        noteRule("other-resource", "c1", { resource: "billing" }),
        noteRule("resource-id", "c1", { resource: "onboarding_sequence", resource_id: "workspace-setup" }),
        noteRule("other-id", "c1", { resource_id: "invite-team" }),
        noteRule("when", "c1", { when: { all: [{ path: "sequence_step", op: "gte", value: 3 }, { path: "email", op: "contains", value: "@northstar.io" }] } }),
        noteRule("when-not", "c1", { when: { path: "sequence_step", op: "gt", value: 3 } }),
        noteRule("inactive", "c1", { active: false }),
        noteRule("other-event", "c1", { event: "user.signup" }),
      ],
    });
    await engine.ingest([pageCompleted("e1"), { id: "e2", event: "page.completed", payload }], { publishableKey: KEY_A });
    await engine.drain({ advanceClock: true });
    const rules = async (id: string) => (await engine.events.get(id))!.deliveries.map((d) => d.rule_id).sort();
    expect(await rules("e1")).toEqual(["any", "resource", "resource-id", "when"]);
    expect(await rules("e2")).toEqual(["any", "when"]);
  });

  it("stores an event no rule matches as completed with no deliveries", async () => {
    const { engine } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    await engine.ingest([{ id: "e1", event: "nothing.listens", payload: {} }], { publishableKey: KEY_A });
    expect(await engine.events.get("e1")).toMatchObject({ status: "completed", total_rules: 0, deliveries: [] });
  });
});

describe("tenant isolation", () => {
  it("never uses one workspace's rules, connections, credentials or events for another", async () => {
    const TOKEN_A = "acme-token-aaaaaaaa";
    const TOKEN_B = "beta-token-bbbbbbbb";
    const { engine, sim } = await harness({
      simulator: { tokens: [TOKEN_A, TOKEN_B] },
      connections: [
        acmeConnection("a-notes", "acme-prod", { credentials: { token: TOKEN_A } }),
        acmeConnection("b-notes", "beta-prod", { credentials: { token: TOKEN_B } }),
      ],
      rules: [noteRule("a-rule", "a-notes"), noteRule("b-rule", "b-notes", {}, "beta-prod")],
    });
    // Same event name, same destination type, even the same event id in both workspaces.
    const a = await engine.ingest([pageCompleted("shared-id"), pageCompleted("a-only")], { publishableKey: KEY_A });
    const b = await engine.ingest([pageCompleted("shared-id")], { publishableKey: KEY_B });
    expect(a.records.map((r) => ("workspace" in r ? r.workspace : r))).toEqual(["acme-prod", "acme-prod"]);
    expect(b.records[0]).toMatchObject({ id: "shared-id", workspace: "beta-prod" });
    await engine.drain({ advanceClock: true });

    const notesA = sim("a-notes").snapshot().notes;
    const notesB = sim("b-notes").snapshot().notes;
    expect(notesA.map((n) => n.text)).toEqual(["step 3 via a-rule", "step 3 via a-rule"]);
    expect(notesB.map((n) => n.text)).toEqual(["step 3 via b-rule"]);
    expect(new Set(sim("a-notes").requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${TOKEN_A}`]));
    expect(new Set(sim("b-notes").requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${TOKEN_B}`]));

    const listA = await engine.events.list({ workspace: "acme-prod" });
    const listB = await engine.events.list({ workspace: "beta-prod" });
    expect(listA.records.map((e) => e.id).sort()).toEqual(["a-only", "shared-id"]);
    expect(listB.records.map((e) => `${e.workspace}/${e.id}`)).toEqual(["beta-prod/shared-id"]);
    await expect(engine.events.get("shared-id")).rejects.toMatchObject({ code: "ambiguous_event_id" });
    expect((await engine.events.get("shared-id", { workspace: "beta-prod" }))!.deliveries.map((d) => d.rule_id)).toEqual(["b-rule"]);
    expect(await engine.events.get("a-only", { workspace: "beta-prod" })).toBeUndefined();
    expect((await engine.attempts.list("shared-id", "b-rule"))[0]!.exchanges[0]!.request.headers.authorization).toBe("[REDACTED]");
    expect(await engine.replay({ workspace: "beta-prod", status: "completed" }, { dryRun: true })).toEqual({ count: 1 });
    expect(engine.workspaceOf(KEY_B)).toBe("beta-prod");
  });

  it("keeps credentials out of attempt records", async () => {
    const { engine, sim } = await harness({ connections: [acmeConnection("c1")], rules: [noteRule("r1", "c1")] });
    sim("c1").inject({ status: 500, body: { message: "echo Bearer acme-secret-token" } });
    await engine.ingest([pageCompleted("e1")], { publishableKey: KEY_A });
    await engine.drain({ advanceClock: true });
    const recorded = JSON.stringify(await engine.attempts.list("e1", "r1")) + JSON.stringify(await engine.events.get("e1"));
    expect(recorded).not.toContain("acme-secret-token");
    expect(recorded).toContain("[REDACTED]");
    void (sim("c1").snapshot() as AcmeSnapshot);
  });
});

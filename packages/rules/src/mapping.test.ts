import { afterEach, describe, expect, it } from "vitest";
import type { Engine } from "./engine.js";
import { compileMapping, compileTransform } from "./mapping.js";
import { KEY_A, acmeConnection, noteRule } from "./__fixtures__/config.js";
import { startEngine } from "./__fixtures__/engine.js";
import type { Mapping, MappingField, MappingTransform } from "./types.js";

const run = (transforms: MappingTransform[], value: unknown) => {
  let current = value;
  for (const t of transforms) current = compileTransform(t)(current);
  return current;
};

describe("transforms", () => {
  it.each<[MappingTransform[], unknown, unknown]>([
    [["to_string"], 42, "42"],
    [["to_string"], true, "true"],
    [["to_string"], { a: 1 }, '{"a":1}'],
    [["to_number"], " 42.5 ", 42.5],
    [["to_number"], 7, 7],
    [["to_number"], true, 1],
    [["to_boolean"], "Yes", true],
    [["to_boolean"], "0", false],
    [["to_boolean"], 1, true],
    [["to_date"], "2026-03-01T23:30:00Z", "2026-03-01"],
    [[{ type: "to_date", timezone: "Asia/Tokyo" }], "2026-03-01T23:30:00Z", "2026-03-02"],
    [["to_date"], 1772409600, "2026-03-02"],
    [["to_date"], "2026-03-01", "2026-03-01"],
    [["to_datetime"], 1772409600000, "2026-03-02T00:00:00.000Z"],
    [["to_datetime"], "2026-03-01T10:00:00+02:00", "2026-03-01T08:00:00.000Z"],
    [[{ type: "default", value: "n/a" }], undefined, "n/a"],
    [[{ type: "default", value: "n/a" }], "", "n/a"],
    [[{ type: "default", value: "n/a" }], "set", "set"],
    [["trim"], "  Alex  ", "Alex"],
    [["lower"], "ALEX@NorthStar.io", "alex@northstar.io"],
    [["upper"], "fr", "FR"],
    [[{ type: "substring", start: 0, end: 3 }], "Northstar", "Nor"],
    [[{ type: "substring", start: 2, length: 3 }], "Northstar", "rth"],
    [["trim", "lower", { type: "substring", start: 0, end: 4 }], "  ALEX  ", "alex"],
    [["trim"], undefined, undefined],
    [["lower"], null, null],
  ])("%j on %j → %j", (transforms, input, expected) => {
    expect(run(transforms, input)).toEqual(expected);
  });

  it.each<[MappingTransform, unknown, RegExp]>([
    ["to_number", "abc", /to_number cannot convert "abc"/],
    ["to_boolean", "maybe", /to_boolean cannot convert "maybe"/],
    ["to_date", "not a date", /to_date cannot read a date from "not a date"/],
    ["to_date", "2026-02-30", /is not a real date/],
    ["lower", 5, /lower expects a string, got 5/],
    [{ type: "substring", start: 0 }, ["a"], /substring expects a string, got an array/],
  ])("%j on %j fails", (transform, input, message) => {
    expect(() => run([transform], input)).toThrow(message);
  });
});

describe("mappings", () => {
  const field = (dest: string, value: string, extra: Partial<MappingField> = {}): MappingField => ({ dest, source: { type: "path", value }, ...extra });
  const mapping = (...fields: MappingField[]): Mapping => ({ schema_version: 1, fields });
  const payload = { email: " Alex@Northstar.io ", plan: "pro", seats: "12", user: { country: "fr" } };

  it("builds `mapped` from paths and literals, nesting dotted destinations", () => {
    const apply = compileMapping(
      mapping(
        field("email", "email", { transforms: ["trim", "lower"] }),
        field("properties.country", "user.country", { transforms: ["upper"] }),
        field("properties.seats", "seats", { transforms: ["to_number"] }),
        { dest: "source", source: { type: "literal", value: "meshwork" } },
      ),
    );
    expect(apply(payload)).toEqual({ mapped: { email: "alex@northstar.io", properties: { country: "FR", seats: 12 }, source: "meshwork" }, warnings: [] });
  });

  it("skip_field drops the field silently", () => {
    const apply = compileMapping(mapping(field("phone", "phone", { on_error: "skip_field" }), field("plan", "plan")));
    expect(apply(payload)).toEqual({ mapped: { plan: "pro" }, warnings: [] });
  });

  it("warn_action (the default) drops the field and says why", () => {
    const apply = compileMapping(mapping(field("phone", "phone"), field("seats", "plan", { transforms: ["to_number"], on_error: "warn_action" })));
    expect(apply(payload)).toEqual({
      mapped: {},
      warnings: [
        'mapping field "phone" (mapping.fields[0]) dropped: source path "phone" has no value',
        'mapping field "seats" (mapping.fields[1]) dropped: to_number cannot convert "pro"',
      ],
    });
  });

  it("fail_action fails the attempt, naming the field and why", () => {
    const apply = compileMapping(mapping(field("plan", "plan"), field("seats", "plan", { transforms: ["to_number"], on_error: "fail_action" })));
    expect(apply(payload).error).toBe('mapping field "seats" (mapping.fields[1]): to_number cannot convert "pro"');
  });

  it("a default keeps a missing field", () => {
    const apply = compileMapping(mapping(field("phone", "phone", { transforms: [{ type: "default", value: null }], on_error: "fail_action" })));
    expect(apply(payload)).toEqual({ mapped: { phone: null }, warnings: [] });
  });
});

describe("mappings in the engine", () => {
  const engines: Engine[] = [];
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.stop({ timeoutMs: 100 })));
  });

  it("passes `mapped` to the action, records warnings on the attempt, and fails with mapping_error", async () => {
    const h = await startEngine({
      connections: [acmeConnection("c1")],
      rules: [
        noteRule("sync", "c1", {
          metadata: { action: "update_contact" },
          mapping: {
            schema_version: 1,
            fields: [
              { dest: "email", source: { type: "path", value: "contact.email" }, transforms: ["trim", "lower"], on_error: "fail_action" },
              { dest: "plan", source: { type: "path", value: "plan" }, transforms: ["upper"] },
              { dest: "seats", source: { type: "path", value: "seats" }, transforms: ["to_number"], on_error: "skip_field" },
              { dest: "signed_up_on", source: { type: "path", value: "signup_at" }, transforms: ["to_date"] },
            ],
          },
        }),
      ],
    });
    engines.push(h.engine);
    await h.engine.ingest(
      [
        { id: "full", event: "page.completed", payload: { contact: { email: " Alex@Northstar.io " }, plan: "pro", seats: "12", signup_at: "2026-02-27T10:00:00Z" } },
        { id: "partial", event: "page.completed", payload: { contact: { email: "sam@northstar.io" }, seats: "many" } },
        { id: "broken", event: "page.completed", payload: { plan: "pro" } },
      ],
      { publishableKey: KEY_A },
    );
    await h.engine.drain({ advanceClock: true });
    expect(h.sim("c1").snapshot().contacts).toEqual({
      "alex@northstar.io": { plan: "PRO", seats: 12, signed_up_on: "2026-02-27" },
      "sam@northstar.io": {},
    });
    const [partial] = await h.engine.attempts.list("partial", "sync");
    expect(partial).toMatchObject({ outcome: "delivered" });
    expect(partial!.notes).toEqual([
      'warning: mapping field "plan" (mapping.fields[1]) dropped: source path "plan" has no value',
      'warning: mapping field "signed_up_on" (mapping.fields[3]) dropped: source path "signup_at" has no value',
    ]);
    const [broken] = await h.engine.attempts.list("broken", "sync");
    expect(broken).toMatchObject({ outcome: "mapping_error", retryable: false, message: 'mapping field "email" (mapping.fields[0]): source path "contact.email" has no value' });
    expect((await h.engine.events.get("broken"))!.deliveries[0]).toMatchObject({ status: "failed", attempt_count: 1 });
  });
});

import { describe, expect, it } from "vitest";
import { compileMapping, compileTransform } from "./mapping.js";
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

import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineAction, defineDestination } from "@meshwork/destination-kit";
import { createEngine, defineConfig, env, fromMeshesExport, MeshworkConfigError, MeshworkRulesError, validateConfig } from "./index.js";
import type { MeshworkConfigInput } from "./types.js";
import { acme } from "./__fixtures__/destinations.js";
import { KEY_A, KEY_B, acmeConnection, config, noteRule } from "./__fixtures__/config.js";

/** A stand-in with HubSpot's action names and credential shape, to check messages end to end. */
const hubspotLike = defineDestination({
  type: "hubspot",
  name: "HubSpot",
  credentials: z.object({ accessToken: z.string().min(1) }),
  baseUrl: "https://api.hubapi.test",
  actions: {
    add_to_list: defineAction({ description: "x", metadata: z.object({ id: z.string() }), perform: async () => {} }),
    remove_from_list: defineAction({ description: "x", metadata: z.object({ id: z.string() }), perform: async () => {} }),
    update_property: defineAction({ description: "x", metadata: z.object({ id: z.string(), value: z.number() }), perform: async () => {} }),
    sync_contact: defineAction({ description: "x", metadata: z.object({}), perform: async () => {} }),
  },
  sandbox: () => {
    throw new Error("unused");
  },
});

const destinations = [acme(), hubspotLike];

function hubspotConfig(rules: MeshworkConfigInput["rules"], token: unknown = "pat-na1-secret-token"): MeshworkConfigInput {
  return config(
    [acmeConnection("acme-notes"), { id: "acme-hubspot", workspace: "acme-prod", type: "hubspot", name: "HubSpot", mode: "live", credentials: { accessToken: token as string } }],
    rules,
  );
}

const paths = (input: unknown) => validateConfig(input, destinations).map((p) => `${p.path}: ${p.message}`);

describe("defineConfig", () => {
  it("accepts a valid config and fills in defaults", () => {
    const result = defineConfig(config([acmeConnection("c1")], [noteRule("r1", "c1")]));
    expect(result.kind).toBe("meshwork.config");
    expect(result.rules[0]).toMatchObject({ id: "r1", active: true, resource: null, resource_id: null, metadata: { action: "add_note" } });
    expect(result.connections[0]).toMatchObject({ mode: "sandbox" });
    expect(result.accessKeys).toEqual([]);
    expect(validateConfig(result, destinations)).toEqual([]);
  });

  it("is idempotent on its own output", () => {
    const once = defineConfig(config([acmeConnection("c1")], [noteRule("r1", "c1")]));
    expect(defineConfig(once)).toBe(once);
  });

  it("names the action, the destination and its actions for an unknown action", () => {
    const problems = paths(
      hubspotConfig([
        noteRule("r0", "acme-notes"),
        noteRule("r1", "acme-notes"),
        { id: "r2", workspace: "acme-prod", connection: "acme-hubspot", event: "user.signup", metadata: { action: "add_tags" } },
      ]),
    );
    expect(problems).toEqual([
      'rules[2].metadata.action: "add_tags" is not an action of hubspot (add_to_list, remove_from_list, update_property, sync_contact)',
    ]);
  });

  it("suggests the closest action when one is close", () => {
    const problems = paths(hubspotConfig([{ id: "r1", workspace: "acme-prod", connection: "acme-hubspot", event: "x", metadata: { action: "add_to_lst", id: "7" } }]));
    expect(problems[0]).toMatch(/^rules\[0\]\.metadata\.action: "add_to_lst" is not an action of hubspot \(.*\); did you mean "add_to_list"\?$/);
  });

  it("refuses a rule whose connection belongs to another workspace", () => {
    const input = config([acmeConnection("acme-c"), acmeConnection("beta-c", "beta-prod")], [noteRule("r1", "beta-c")]);
    expect(() => defineConfig(input)).toThrow(MeshworkConfigError);
    expect(paths(input)).toEqual([
      'rules[0].connection: connection "beta-c" belongs to workspace "beta-prod", not "acme-prod"; a rule can only use connections of its own workspace',
    ]);
  });

  it("refuses duplicate ids of every kind", () => {
    const input = config([acmeConnection("c1"), acmeConnection("c1")], [noteRule("r1", "c1"), noteRule("r1", "c1")]);
    input.workspaces.push({ id: "acme-prod", name: "Again", environment: "staging", publishableKeys: ["mw_pub_other_key_1"] });
    expect(paths(input)).toEqual([
      'workspaces[2].id: duplicate workspace id "acme-prod" (also workspaces[0]); ids must be unique',
      'connections[1].id: duplicate connection id "c1" (also connections[0]); ids must be unique across workspaces',
      'rules[1].id: duplicate rule id "r1" (also rules[0]); ids must be unique across workspaces',
    ]);
  });

  it("refuses a publishable key used by two workspaces", () => {
    const input = config([], []);
    input.workspaces[1]!.publishableKeys = [KEY_B, KEY_A];
    expect(paths(input)).toEqual([
      'workspaces[1].publishableKeys[1]: publishable key "mw_pub_acme_…" is already used by workspace "acme-prod" (workspaces[0]); a key must name exactly one workspace, so give each workspace its own',
    ]);
  });

  it("refuses an unknown connection type and suggests the fix", () => {
    const input = config([{ ...acmeConnection("c1"), type: "hubspt" }], []);
    expect(paths(input)).toEqual([
      'connections[0].type: "hubspt" is not a destination this engine knows; did you mean "hubspot"? (known: acme, hubspot); pass it to createEngine({ destinations: [...] })',
    ]);
  });

  it("checks credentials against the destination's schema without printing them", () => {
    const problems = paths(hubspotConfig([], ""));
    expect(problems).toEqual(["connections[1].credentials.accessToken: must not be empty; hubspot credentials are { accessToken }"]);
    const missing = paths(config([{ ...acmeConnection("c1"), credentials: { tokn: "acme-secret-token" } }], []));
    expect(missing).toEqual(["connections[0].credentials.token: is required (string); acme credentials are { token }"]);
    expect(missing.join("\n")).not.toContain("acme-secret-token");
  });

  it("names unknown workspaces and connections with a suggestion", () => {
    const input = config([acmeConnection("c1", "acme-prd")], [noteRule("r1", "c2")]);
    expect(paths(input)).toEqual([
      'connections[0].workspace: workspace "acme-prd" is not defined; did you mean "acme-prod"? (workspaces: acme-prod, beta-prod)',
      'rules[0].connection: connection "c2" is not defined (connections of workspace "acme-prod": none)',
    ]);
  });

  it("names unknown fields and suggests the right one", () => {
    const rule = { ...noteRule("r1", "c1"), resouce: "onboarding" } as unknown as MeshworkConfigInput["rules"][number];
    const problems = paths(config([acmeConnection("c1")], [rule]));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^rules\[0\]\.resouce: is not a known field; did you mean "resource"\?/);
  });

  it("checks metadata against the action's schema, but leaves {{templates}} to rendering", () => {
    const templated = paths(hubspotConfig([{ id: "r1", workspace: "acme-prod", connection: "acme-hubspot", event: "x", metadata: { action: "update_property", id: "step", value: "{{sequence_step}}" } }]));
    expect(templated).toEqual([]);
    const wrong = paths(hubspotConfig([{ id: "r1", workspace: "acme-prod", connection: "acme-hubspot", event: "x", metadata: { action: "update_property", id: "step", value: "three" } }]));
    expect(wrong).toEqual(["rules[0].metadata.value: must be number, got a string (metadata of hubspot.update_property)"]);
    const missing = paths(hubspotConfig([{ id: "r1", workspace: "acme-prod", connection: "acme-hubspot", event: "x", metadata: { action: "add_to_list" } }]));
    expect(missing).toEqual(["rules[0].metadata.id: is required (string) (metadata of hubspot.add_to_list)"]);
  });

  it("checks `when` conditions", () => {
    const rule = noteRule("r1", "c1", { when: { all: [{ path: "plan", op: "equals", value: "pro" }, { path: "n", op: "gt", value: [1] }, { path: "x", op: "in", value: "a" }] } as never });
    expect(paths(config([acmeConnection("c1")], [rule]))).toEqual([
      'rules[0].when.all[0].op: must be one of eq, neq, in, nin, exists, gt, gte, lt, lte, contains, starts_with, got "equals"',
      'rules[0].when.all[1].value: must be a number or a string for "gt"',
      'rules[0].when.all[2].value: must be an array of candidates for "in"',
    ]);
  });

  it("checks mappings", () => {
    const rule = noteRule("r1", "c1", {
      mapping: {
        schema_version: 1,
        fields: [
          { dest: "email", source: { type: "path", value: "email" }, transforms: ["lowr" as never], on_error: "skip" as never },
          { dest: "email", source: { type: "literal", value: { a: 1 } as never } },
          { dest: "day", source: { type: "path", value: "at" }, transforms: [{ type: "to_date", timezone: "Mars/Olympus" }, { type: "substring" } as never] },
        ],
      },
    });
    expect(paths(config([acmeConnection("c1")], [rule]))).toEqual([
      'rules[0].mapping.fields[0].on_error: must be one of skip_field, warn_action, fail_action, got "skip"; did you mean "skip_field"?',
      'rules[0].mapping.fields[0].transforms[0]: must be one of to_string, to_number, to_boolean, to_date, to_datetime, default, trim, lower, upper, substring, got "lowr"; did you mean "lower"?',
      'rules[0].mapping.fields[1].dest: "email" is already produced by fields[0]',
      "rules[0].mapping.fields[1].source.value: must be a string, number, boolean or null",
      'rules[0].mapping.fields[2].transforms[0].timezone: "Mars/Olympus" is not an IANA time zone (e.g. "Europe/Paris")',
      "rules[0].mapping.fields[2].transforms[1].start: must be an integer",
    ]);
  });

  it("checks access keys", () => {
    const input = config([], [], { accessKeys: [{ accessKey: "mk_1", secretKey: "s".repeat(32), workspaces: ["acme-prod", "gamma"] }] });
    expect(paths(input)).toEqual(['accessKeys[0].workspaces[1]: workspace "gamma" is not defined (workspaces: acme-prod, beta-prod)']);
  });

  it("reports structural problems with a readable message", () => {
    const input = { workspaces: [{ id: "w", name: "W", environment: "prod", publishableKeys: [] }], connections: [], rules: [] };
    expect(paths(input)).toEqual([
      'workspaces[0].environment: must be one of "production", "staging", "development", got "prod"; did you mean "production"?',
      "workspaces[0].publishableKeys: needs at least 1 item",
    ]);
    expect(paths("nope")).toEqual(["(config): must be object, got a string"]);
  });

  it("hides credentials and secret keys when printed", () => {
    const result = defineConfig(config([acmeConnection("c1")], [], { accessKeys: [{ accessKey: "mk_1", secretKey: "super-secret-key-123456", workspaces: ["acme-prod"] }] }));
    const printed = JSON.stringify(result) + inspect(result, { depth: 10 });
    expect(printed).not.toContain("acme-secret-token");
    expect(printed).not.toContain("super-secret-key-123456");
    expect(result.accessKeys[0]!.secretKey).toBe("super-secret-key-123456");
  });

  it("createEngine runs the destination checks and throws every problem", () => {
    const input = hubspotConfig([{ id: "r1", workspace: "acme-prod", connection: "acme-hubspot", event: "x", metadata: { action: "nope" } }], "");
    let error: unknown;
    try {
      createEngine({ config: input, destinations });
    } catch (e) {
      error = e;
    }
    expect(MeshworkConfigError.isInstance(error)).toBe(true);
    expect(MeshworkRulesError.isInstance(error)).toBe(true);
    const configError = error as MeshworkConfigError;
    expect(configError.code).toBe("invalid_config");
    expect(configError.problems.map((p) => p.path)).toEqual(["connections[1].credentials.accessToken", "rules[0].metadata.action"]);
    expect(configError.message).toContain("invalid Meshwork configuration (2 problems):\n  connections[1].credentials.accessToken:");
  });
});

describe("env", () => {
  afterEach(() => {
    delete process.env.MESHWORK_TEST_TOKEN;
  });

  it("reads a variable at load time", () => {
    process.env.MESHWORK_TEST_TOKEN = "acme-secret-token";
    const result = defineConfig(config([{ ...acmeConnection("c1"), credentials: { token: env("MESHWORK_TEST_TOKEN") } }], []));
    expect(result.connections[0]!.credentials.token).toBe("acme-secret-token");
  });

  it("names the variable and the path when it is missing", () => {
    const input = config([{ ...acmeConnection("c1"), credentials: { token: env("MESHWORK_TEST_TOKEN") } }], []);
    expect(() => defineConfig(input)).toThrow(/connections\[0\]\.credentials\.token: environment variable MESHWORK_TEST_TOKEN is not set/);
    expect(validateConfig(input, destinations)).toEqual([
      {
        path: "connections[0].credentials.token",
        message: 'environment variable MESHWORK_TEST_TOKEN is not set (read with env("MESHWORK_TEST_TOKEN")); set it before loading the config, or give a fallback: env("MESHWORK_TEST_TOKEN", "…")',
      },
    ]);
  });

  it("takes a fallback, and a missing value cannot be used as a string by accident", () => {
    expect(env("MESHWORK_TEST_TOKEN", "dev-token")).toBe("dev-token");
    expect(() => `${env("MESHWORK_TEST_TOKEN")}`).toThrow(/MESHWORK_TEST_TOKEN is not set/);
  });
});

describe("Meshes export", () => {
  // Trimmed to the fields Meshes' management API returns for rules, connections, workspaces and
  // a connection's default mapping.
  const exported = {
    workspaces: { count: 1, limit: 50, next_cursor: null, records: [{ id: "5d1e0c3a", name: "Acme", description: null, publishable_key: { public_key: "mesh_pub_acme_0123456789", name: "default" }, created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" }] },
    connections: [{ id: "0b6c9e11", workspace: "5d1e0c3a", type: "acme", name: "Notes", metadata: { region: "us" }, hidden: false, created_by: "u1", created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z" }],
    rules: {
      records: [
        {
          id: "9a7f0001",
          workspace: "5d1e0c3a",
          connection: "0b6c9e11",
          type: "acme",
          event: "page.completed",
          resource: "onboarding_sequence",
          metadata: { action: "add_note", contact: "{{email}}", text: "step {{sequence_step}}" },
          active: true,
          hidden: false,
          created_by: "u1",
          created_at: "2026-01-01T00:00:00Z",
          updated_at: "2026-01-01T00:00:00Z",
        },
      ],
    },
    mappings: [{ id: "m1", mapping_id: "m1", version: 1, connection_id: "0b6c9e11", name: "default", schema: { schema_version: 1 as const, fields: [{ dest: "email", source: { type: "path" as const, value: "email" }, transforms: [{ type: "lower" as const }] }] } }],
  };

  it("loads as it is, with credentials and environments given alongside", () => {
    const input = fromMeshesExport(exported, { credentials: { "0b6c9e11": { token: "acme-secret-token" } }, environment: "staging" });
    const result = defineConfig(input);
    expect(result.workspaces).toEqual([{ id: "5d1e0c3a", name: "Acme", environment: "staging", publishableKeys: ["mesh_pub_acme_0123456789"] }]);
    expect(result.connections[0]).toMatchObject({ id: "0b6c9e11", type: "acme", mode: "live", credentials: { token: "acme-secret-token" } });
    expect(result.rules[0]).toMatchObject({ id: "9a7f0001", resource: "onboarding_sequence", active: true, mapping: exported.mappings[0]!.schema });
    expect(validateConfig(result, destinations)).toEqual([]);
  });

  it("accepts a Meshes rule as it is in defineConfig", () => {
    const input = config([acmeConnection("c1")], [{ ...noteRule("r1", "c1"), type: "acme", hidden: false, created_by: "u1", created_at: "2026-01-01T00:00:00Z" } as never]);
    expect(defineConfig(input).rules[0]).not.toHaveProperty("hidden");
  });

  it("says how to give a publishable key the export does not hold", () => {
    const { workspaces: _w, ...withoutWorkspaces } = exported;
    expect(() => fromMeshesExport(withoutWorkspaces)).toThrow(/workspace "5d1e0c3a" has no publishable key: .*fromMeshesExport\(data, \{ workspaces: \{ "5d1e0c3a": \{ publishableKeys/);
  });
});

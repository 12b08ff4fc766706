import type { HubspotSnapshot } from "@meshwork/hubspot";
import { fromMeshesExport, type MeshesExport } from "@meshwork/rules";
import { createServer } from "@meshwork/server";
import type { SlackSnapshot } from "@meshwork/slack";
import { describe, expect, it } from "vitest";
import exported from "../meshes-export.json" with { type: "json" };
import { createEvents, onOnboardingSteps, onSignup } from "./app.js";
import config from "./meshwork.config.js";

const HUBSPOT = "0b6c9e11-3a5d-4e7f-8c21-6d4a9b2f7e10";
const SLACK = "7e2f4a90-1c6b-4d38-b5e7-9a0c3d8f2b41";

describe("migrating from Meshes", () => {
  it("loads the export as it is: rules keep their ids, shape and active flag; the default mapping applies", () => {
    const rules = (exported as MeshesExport).rules as { records: Array<{ id: string }> };
    expect(config.rules.map((r) => r.id)).toEqual(rules.records.map((r) => r.id));
    expect(config.rules.find((r) => r.event === "trial.expired")?.active).toBe(false);
    for (const rule of config.rules.filter((r) => r.connection === HUBSPOT)) expect(rule.mapping?.fields.map((f) => f.dest)).toEqual(["email", "firstname"]);
    expect(config.rules.find((r) => r.connection === SLACK)?.mapping).toBeUndefined();
    expect(config.workspaces[0]?.publishableKeys).toEqual(["mesh_pub_acme_Z3kq8XfA2pL", "mw_pub_acme_migrated"]);
    expect(config.connections.map((c) => [c.type, c.mode])).toEqual([
      ["hubspot", "sandbox"],
      ["slack", "sandbox"],
    ]);
  });

  it("says what the export lacks: a workspace without a publishable key", () => {
    const { workspaces: _omitted, ...rest } = exported as MeshesExport;
    expect(() => fromMeshesExport(rest)).toThrow(/has no publishable key/);
  });

  it("the unchanged EventsClient code emits to the Meshwork server and the migrated rules deliver", async () => {
    const server = createServer({ config, logger: false });
    const { url } = await server.listen({ port: 0, host: "127.0.0.1" });
    try {
      const events = createEvents(`${url}/api/v1`);
      const id = await onSignup(events, { email: "Alex@Northstar.io", first_name: "Alex", plan: "pro" });
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await onOnboardingSteps(events, "alex@northstar.io", [1, 2])).toBe(2);
      await server.engine.drain();

      const signup = await server.engine.events.get(id);
      expect(signup?.deliveries.map((d) => [d.rule_id, d.status]).sort()).toEqual([
        ["9a7f0001-5b3c-4e2d-8f10-3c6e9a2b7d01", "completed"],
        ["9a7f0003-7d5e-4a4f-8b32-5e8a1c4d9f03", "completed"],
      ]);
      // The connection's default mapping lower-cased the email for HubSpot.
      expect(server.engine.sandbox<HubspotSnapshot>(HUBSPOT).snapshot().contacts.map((c) => c.properties)).toEqual([
        { email: "alex@northstar.io", firstname: "Alex", lifecyclestage: "lead", onboarding_step: "2" },
      ]);
      const slack = server.engine.sandbox<SlackSnapshot>(SLACK).snapshot();
      expect(slack.channels.flatMap((c) => c.messages.map((m) => m.text))).toEqual(["New signup: Alex@Northstar.io (pro)"]);
    } finally {
      await server.close();
    }
  });
});

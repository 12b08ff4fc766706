import { createClient } from "@meshwork/events";
import { createHubspotSimulator, hubspot, type HubspotSnapshot } from "@meshwork/hubspot";
import { createEngine } from "@meshwork/rules";
import { createSlackSimulator, slack, type SlackSnapshot } from "@meshwork/slack";
import { describe, expect, it } from "vitest";
import { createConfig, KEYS, RULES } from "./config.js";

const live = { hubspotToken: "pat-na1-live-token", slackBotToken: "xoxb-live-token" };

describe("production and staging from one rule set", () => {
  it("generates the same rules into both workspaces; only production goes live", () => {
    const config = createConfig(live);
    const ruleIds = (workspace: string) => config.rules.filter((r) => r.workspace === workspace).map((r) => r.id.slice(workspace.length + 1));
    expect(ruleIds("acme-production")).toEqual(RULES.map((r) => r.id));
    expect(ruleIds("acme-staging")).toEqual(RULES.map((r) => r.id));
    expect(config.connections.map((c) => [c.id, c.mode])).toEqual([
      ["acme-production-hubspot", "live"],
      ["acme-production-slack", "live"],
      ["acme-staging-hubspot", "sandbox"],
      ["acme-staging-slack", "sandbox"],
    ]);
    // Without production credentials nothing is live.
    expect(createConfig().connections.every((c) => c.mode === "sandbox")).toBe(true);
  });

  it("staging events reach the sandbox simulators and never the live APIs; production events the reverse", async () => {
    // Stand-ins for the real HubSpot and Slack APIs (no network in tests), given to the live adapters as `fetch`.
    const liveHubspot = createHubspotSimulator();
    const liveSlack = createSlackSimulator();
    const engine = createEngine({ config: createConfig(live), destinations: [hubspot({ fetch: liveHubspot.fetch }), slack({ fetch: liveSlack.fetch })] });
    await engine.start();
    try {
      for (const env of ["staging", "production"] as const) {
        const meshwork = createClient({ publishableKey: KEYS[env], engine });
        void meshwork.emit({ event: "user.signup", payload: { email: `${env}@acme.example` } });
        void meshwork.emit({ event: "page.completed", resource: "onboarding_sequence", payload: { email: `${env}@acme.example`, sequence_step: 2 } });
        await meshwork.close();
      }
      await engine.drain();

      const sandboxHubspot = engine.sandbox<HubspotSnapshot>("acme-staging-hubspot").snapshot();
      expect(sandboxHubspot.contacts.map((c) => c.properties)).toEqual([{ email: "staging@acme.example", onboarding_step: "2" }]);
      expect(liveHubspot.snapshot().contacts.map((c) => c.properties)).toEqual([{ email: "production@acme.example", onboarding_step: "2" }]);
      const texts = (snapshot: SlackSnapshot) => snapshot.channels.flatMap((c) => c.messages.map((m) => m.text));
      expect(texts(engine.sandbox<SlackSnapshot>("acme-staging-slack").snapshot())).toEqual(["New signup: staging@acme.example"]);
      expect(texts(liveSlack.snapshot())).toEqual(["New signup: production@acme.example"]);

      // The live APIs saw only production's credentials; the production connections have no simulator.
      expect(new Set(liveHubspot.requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${live.hubspotToken}`]));
      expect(new Set(liveSlack.requests.map((r) => r.headers.authorization))).toEqual(new Set([`Bearer ${live.slackBotToken}`]));
      expect(() => engine.sandbox("acme-production-hubspot")).toThrow(/live/);
    } finally {
      await engine.stop();
    }
  });
});

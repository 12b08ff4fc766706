import { serve, type ServerType } from "@hono/node-server";
import type { ActiveCampaignSnapshot } from "@meshwork/activecampaign";
import type { HubspotSnapshot } from "@meshwork/hubspot";
import type { SlackSnapshot } from "@meshwork/slack";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { createMeshwork } from "./meshwork.js";

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function start() {
  const { engine, meshwork } = createMeshwork();
  await engine.start();
  const server: ServerType = serve({ fetch: createApp(meshwork).fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  const { port } = server.address() as { port: number };
  cleanup = async () => {
    server.close();
    await meshwork.close();
    await engine.stop();
  };
  return { engine, meshwork, url: `http://127.0.0.1:${port}` };
}

const alex = { "x-user-id": "usr_5012", "x-user-email": "alex@northstar.io", "content-type": "application/json" };

describe("onboarding app, rules in-process", () => {
  it("POST /onboarding/steps/:step/complete emits page.completed and every connection receives it", async () => {
    const { engine, meshwork, url } = await start();
    for (const step of [1, 2, 3]) {
      const response = await fetch(`${url}/onboarding/steps/${step}/complete`, { method: "POST", headers: alex, body: JSON.stringify({ time_on_page_seconds: 90 }) });
      expect(response.status).toBe(201);
    }
    await meshwork.flush();
    await engine.drain();

    const { records } = await engine.events.list({ workspace: "acme-prod" });
    expect(records).toHaveLength(3);
    const last = await engine.events.get(records[0]!.id);
    expect(last).toMatchObject({
      event: "page.completed",
      resource: "onboarding_sequence",
      resource_id: "workspace-setup",
      status: "completed",
      payload: {
        user_id: "usr_5012",
        email: "alex@northstar.io",
        page_id: "pg_connect_data",
        page_title: "Connect your data",
        sequence_step: 3,
        completed_at: expect.any(String),
        time_on_page_seconds: 90,
      },
    });
    // Step 3 also matched the `when: sequence_step >= 3` rule.
    expect(last!.deliveries.map((d) => [d.rule_id, d.status]).sort()).toEqual([
      ["onboarding-cheer", "completed"],
      ["onboarding-done-email", "completed"],
      ["onboarding-step", "completed"],
      ["onboarding-tag", "completed"],
    ]);

    expect(engine.sandbox<HubspotSnapshot>("acme-hubspot").snapshot().contacts.map((c) => c.properties)).toEqual([
      { email: "alex@northstar.io", onboarding_step: "3" },
    ]);
    expect(engine.sandbox<ActiveCampaignSnapshot>("acme-activecampaign").snapshot().contacts[0]?.tags).toEqual(["onboarding-complete"]);
    const onboarding = engine.sandbox<SlackSnapshot>("acme-slack").snapshot().channels.find((c) => c.name === "onboarding");
    expect(onboarding?.messages.map((m) => m.text)).toEqual([
      "alex@northstar.io finished “Create your workspace” (step 1)",
      "alex@northstar.io finished “Invite your team” (step 2)",
      "alex@northstar.io finished “Connect your data” (step 3)",
    ]);
  });

  it("refuses anonymous requests and unknown steps without emitting", async () => {
    const { engine, meshwork, url } = await start();
    expect((await fetch(`${url}/onboarding/steps/1/complete`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${url}/onboarding/steps/9/complete`, { method: "POST", headers: alex })).status).toBe(404);
    await meshwork.flush();
    expect((await engine.events.list()).records).toEqual([]);
  });
});

import { serve, type ServerType } from "@hono/node-server";
import type { ActiveCampaignSnapshot } from "@meshwork/activecampaign";
import { createClient } from "@meshwork/events";
import type { HubspotSnapshot } from "@meshwork/hubspot";
import { createManagementClient, createServer, loadConfigFile, type MeshworkServer } from "@meshwork/server";
import type { SlackSnapshot } from "@meshwork/slack";
import { afterEach, describe, expect, it } from "vitest";
import { createApp } from "../../onboarding-in-process/src/app.js";
import { ACCESS_KEY, PUBLISHABLE_KEY } from "../meshwork.config.js";

const configPath = new URL("../meshwork.config.ts", import.meta.url).pathname;
let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe("the onboarding app, emitting to a hosted endpoint", () => {
  it("the same app and routes, a client with `endpoint`: every rule runs on the server", async () => {
    // What `meshwork serve --config examples/hosted/meshwork.config.ts --memory` runs.
    const loaded = await loadConfigFile(configPath);
    const server: MeshworkServer = createServer({ config: loaded.config, destinations: loaded.destinations ?? [], logger: false });
    const { url: endpoint } = await server.listen({ port: 0, host: "127.0.0.1" });
    cleanup.push(() => server.close());

    const meshwork = createClient({ publishableKey: PUBLISHABLE_KEY, endpoint });
    const app: ServerType = serve({ fetch: createApp(meshwork).fetch, port: 0, hostname: "127.0.0.1" });
    await new Promise<void>((resolve) => app.once("listening", resolve));
    cleanup.push(() => void app.close());
    const url = `http://127.0.0.1:${(app.address() as { port: number }).port}`;

    const headers = { "x-user-id": "usr_5012", "x-user-email": "alex@northstar.io", "content-type": "application/json" };
    for (const step of [1, 2, 3]) {
      expect((await fetch(`${url}/onboarding/steps/${step}/complete`, { method: "POST", headers, body: "{}" })).status).toBe(201);
    }
    expect(await meshwork.close()).toEqual({ sent: 3, failed: 0, dropped: 0, pending: 0 });
    await server.engine.drain();

    // Through the management API, as an operator would see it.
    const management = createManagementClient({ url: endpoint, ...ACCESS_KEY });
    const { records } = await management.request<{ records: Array<{ status: string; event: string }> }>("GET", "/events?workspace=acme-prod");
    expect(records.map((r) => [r.event, r.status])).toEqual([
      ["page.completed", "completed"],
      ["page.completed", "completed"],
      ["page.completed", "completed"],
    ]);

    // And in the server's sandbox simulators.
    expect(server.engine.sandbox<HubspotSnapshot>("acme-hubspot").snapshot().contacts.map((c) => c.properties)).toEqual([
      { email: "alex@northstar.io", onboarding_step: "3" },
    ]);
    expect(server.engine.sandbox<ActiveCampaignSnapshot>("acme-activecampaign").snapshot().contacts[0]?.tags).toEqual(["onboarding-complete"]);
    const onboarding = server.engine.sandbox<SlackSnapshot>("acme-slack").snapshot().channels.find((c) => c.name === "onboarding");
    expect(onboarding?.messages).toHaveLength(3);
  });
});

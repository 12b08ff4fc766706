// `pnpm --filter @meshwork/example-onboarding-in-process start`: serves the app on PORT (default
// 3000), walks one user through the three onboarding steps, prints what reached each sandbox
// simulator, and keeps serving until Ctrl-C.
import { serve } from "@hono/node-server";
import type { ActiveCampaignSnapshot } from "@meshwork/activecampaign";
import type { HubspotSnapshot } from "@meshwork/hubspot";
import type { IntercomSnapshot } from "@meshwork/intercom";
import type { SlackSnapshot } from "@meshwork/slack";
import { createApp } from "./app.js";
import { createMeshwork } from "./meshwork.js";

const { engine, meshwork } = createMeshwork();
await engine.start();
const app = createApp(meshwork);
const server = serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" });
await new Promise<void>((resolve) => server.once("listening", resolve));
const { port } = server.address() as { port: number };
const url = `http://127.0.0.1:${port}`;
console.log(`onboarding app on ${url}`);

const user = { "x-user-id": "usr_5012", "x-user-email": "alex@northstar.io", "content-type": "application/json" };
for (const step of [1, 2, 3]) {
  const response = await fetch(`${url}/onboarding/steps/${step}/complete`, { method: "POST", headers: user, body: JSON.stringify({ time_on_page_seconds: 60 + step * 20 }) });
  console.log(`POST /onboarding/steps/${step}/complete → ${response.status} ${JSON.stringify(await response.json())}`);
}

await meshwork.flush(); // the events are in the engine
await engine.drain(); // and every delivery is done
const { records } = await engine.events.list({ workspace: "acme-prod" });
for (const summary of records.reverse()) {
  const event = await engine.events.get(summary.id);
  const step = event?.payload.sequence_step;
  console.log(`step ${step}: ${event?.deliveries.map((d) => `${d.rule_id} ${d.status}`).join(", ")}`);
}
console.log("\nwhat the sandbox simulators hold:");
console.log("  HubSpot  ", JSON.stringify(engine.sandbox<HubspotSnapshot>("acme-hubspot").snapshot().contacts.map((c) => c.properties)));
console.log("  AC tags  ", JSON.stringify(engine.sandbox<ActiveCampaignSnapshot>("acme-activecampaign").snapshot().contacts.map((c) => [c.email, c.tags])));
console.log("  Intercom ", JSON.stringify(engine.sandbox<IntercomSnapshot>("acme-intercom").snapshot().contacts.map((c) => [c.email, c.tags])));
const slack = engine.sandbox<SlackSnapshot>("acme-slack").snapshot();
for (const channel of slack.channels) for (const message of channel.messages) console.log(`  Slack     #${channel.name}: ${message.text}`);
console.log(`\nstill serving; try:\n  curl -X POST ${url}/onboarding/steps/1/complete -H 'x-user-id: usr_1' -H 'x-user-email: sam@northstar.io'\nCtrl-C to stop.`);
const stop = async () => {
  server.close();
  await meshwork.close();
  await engine.stop();
  process.exit(0);
};
process.once("SIGINT", () => void stop());
process.once("SIGTERM", () => void stop());

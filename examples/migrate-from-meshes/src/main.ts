// `npx tsx examples/migrate-from-meshes/src/main.ts`: serves the migrated config (what
// `meshwork serve --config src/meshwork.config.ts` does) on 127.0.0.1, then runs the unchanged
// application code against it and shows what the rules did.
import type { HubspotSnapshot } from "@meshwork/hubspot";
import { createServer } from "@meshwork/server";
import type { SlackSnapshot } from "@meshwork/slack";
import { createEvents, onOnboardingSteps, onSignup } from "./app.js";
import config from "./meshwork.config.js";

const server = createServer({ config, logger: false });
const { url } = await server.listen({ port: 0 });
console.log(`migrated config served on ${url}: ${config.rules.length} rules, ${config.rules.filter((r) => r.active === false).length} inactive`);

const events = createEvents(`${url}/api/v1`);
const id = await onSignup(events, { email: "Alex@Northstar.io", first_name: "Alex", plan: "pro" });
console.log(`user.signup stored as ${id}`);
console.log(`page.completed × ${await onOnboardingSteps(events, "alex@northstar.io", [1, 2])} stored`);

await server.engine.drain();
for (const summary of (await server.engine.events.list()).records.reverse()) {
  const event = await server.engine.events.get(summary.id);
  console.log(`${summary.event}: ${event?.deliveries.map((d) => `${d.integration_type} ${d.action} ${d.status}`).join(", ")}`);
}
const hubspot = server.engine.sandbox<HubspotSnapshot>("0b6c9e11-3a5d-4e7f-8c21-6d4a9b2f7e10").snapshot();
console.log("HubSpot contacts:", JSON.stringify(hubspot.contacts.map((c) => c.properties)));
const slack = server.engine.sandbox<SlackSnapshot>("7e2f4a90-1c6b-4d38-b5e7-9a0c3d8f2b41").snapshot();
console.log("Slack:", JSON.stringify(slack.channels.flatMap((c) => c.messages.map((m) => m.text))));
await server.close();

// `npx tsx examples/multi-env/src/main.ts`: this process plays the staging deployment of your
// app (APP_ENV=staging): it emits with the staging key, so the production rules run against
// sandbox simulators. Set APP_ENV=production, ACME_HUBSPOT_TOKEN and ACME_SLACK_BOT_TOKEN to
// send the same events to the real accounts.
import { createClient } from "@meshwork/events";
import { hubspot, type HubspotSnapshot } from "@meshwork/hubspot";
import { createEngine } from "@meshwork/rules";
import { slack, type SlackSnapshot } from "@meshwork/slack";
import { createConfig, KEYS, type LiveCredentials } from "./config.js";

const appEnv = process.env.APP_ENV === "production" ? "production" : "staging";
const { ACME_HUBSPOT_TOKEN, ACME_SLACK_BOT_TOKEN } = process.env;
const live: LiveCredentials | undefined =
  ACME_HUBSPOT_TOKEN && ACME_SLACK_BOT_TOKEN ? { hubspotToken: ACME_HUBSPOT_TOKEN, slackBotToken: ACME_SLACK_BOT_TOKEN } : undefined;

const config = createConfig(live);
for (const c of config.connections) console.log(`${c.workspace.padEnd(16)} ${c.name.padEnd(8)} mode: ${c.mode}`);
for (const workspace of config.workspaces) {
  console.log(`${workspace.id.padEnd(16)} rules: ${config.rules.filter((r) => r.workspace === workspace.id).map((r) => r.id.split(".")[1]).join(", ")}`);
}

const engine = createEngine({ config, destinations: [hubspot(), slack()] });
await engine.start();
const meshwork = createClient({ publishableKey: KEYS[appEnv], engine });
void meshwork.emit({ event: "user.signup", payload: { email: "qa@acme.example" } });
void meshwork.emit({ event: "user.signup", payload: { email: "robot@test.acme.example" } }); // filtered by `when`
void meshwork.emit({ event: "page.completed", resource: "onboarding_sequence", payload: { email: "qa@acme.example", sequence_step: 2 } });
await meshwork.close();
await engine.drain();

const workspace = `acme-${appEnv}`;
console.log(`\nemitted with the ${appEnv} key; ${workspace}'s deliveries:`);
for (const summary of (await engine.events.list({ workspace })).records) {
  const event = await engine.events.get(summary.id);
  const deliveries = event?.deliveries.map((d) => `${d.rule_id} ${d.status}`).join(", ") || "no rule matched";
  console.log(`  ${summary.event} ${JSON.stringify(event?.payload)} → ${deliveries}`);
}
if (config.connections.find((c) => c.workspace === workspace)?.mode === "sandbox") {
  console.log("sandbox HubSpot:", JSON.stringify(engine.sandbox<HubspotSnapshot>(`${workspace}-hubspot`).snapshot().contacts.map((c) => c.properties)));
  const channels = engine.sandbox<SlackSnapshot>(`${workspace}-slack`).snapshot().channels;
  console.log("sandbox Slack:  ", JSON.stringify(channels.flatMap((c) => c.messages.map((m) => m.text))));
}
await engine.stop();

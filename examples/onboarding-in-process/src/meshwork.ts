// Meshwork inside the app: the rules engine runs in this process and the events client hands
// it events directly. Connections are in sandbox mode; set MESHWORK_MODE=live and the env
// variables below to talk to the real vendors with the same rules.
import { activecampaign, type ActiveCampaignSimulator } from "@meshwork/activecampaign";
import { createClient } from "@meshwork/events";
import { hubspot } from "@meshwork/hubspot";
import { intercom, type IntercomSimulator } from "@meshwork/intercom";
import { createEngine, defineConfig, env, type Engine, type Store } from "@meshwork/rules";
import { slack, type SlackSimulator } from "@meshwork/slack";

export const PUBLISHABLE_KEY = "mw_pub_acme_onboarding";
const mode = process.env.MESHWORK_MODE === "live" ? "live" : "sandbox";
const workspace = "acme-prod";
const onboarding = { workspace, event: "page.completed", resource: "onboarding_sequence" } as const;

export const config = defineConfig({
  workspaces: [{ id: workspace, name: "Acme", environment: "production", publishableKeys: [PUBLISHABLE_KEY] }],
  connections: [
    { id: "acme-hubspot", workspace, type: "hubspot", name: "HubSpot", mode, credentials: { accessToken: env("ACME_HUBSPOT_TOKEN", "pat-sandbox") } },
    {
      id: "acme-activecampaign",
      workspace,
      type: "activecampaign",
      name: "ActiveCampaign",
      mode,
      credentials: { api_url: env("ACME_AC_URL", "https://acme.api-us1.com"), api_key: env("ACME_AC_KEY", "sandbox") },
    },
    { id: "acme-intercom", workspace, type: "intercom", name: "Intercom", mode, credentials: { accessToken: env("ACME_INTERCOM_TOKEN", "sandbox") } },
    { id: "acme-slack", workspace, type: "slack", name: "Slack", mode, credentials: { botToken: env("ACME_SLACK_BOT_TOKEN", "xoxb-sandbox") } },
  ],
  rules: [
    // The CRM knows how far each user got.
    { id: "onboarding-step", ...onboarding, connection: "acme-hubspot", metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" } },
    // Finishing the last step starts the "you're set up" email sequence.
    {
      id: "onboarding-done-email",
      ...onboarding,
      connection: "acme-activecampaign",
      when: { path: "sequence_step", op: "gte", value: 3 },
      metadata: { action: "add_tag", id: "21" },
    },
    // Support sees how far the user got on the Intercom contact.
    { id: "onboarding-tag", ...onboarding, connection: "acme-intercom", metadata: { action: "add_tag", id: "7522910" } },
    // The team cheers in Slack.
    {
      id: "onboarding-cheer",
      ...onboarding,
      connection: "acme-slack",
      metadata: { action: "send_message", id: "C0ONBOARD1", template: "{{email}} finished “{{page_title}}” (step {{sequence_step}})" },
    },
  ],
});

/** The engine and the client the routes emit with. */
export function createMeshwork(options: { store?: Store } = {}) {
  const engine = createEngine({
    config,
    destinations: [hubspot(), activecampaign(), intercom(), slack()],
    ...(options.store && { store: options.store }),
  });
  if (mode === "sandbox") seedSandbox(engine);
  const meshwork = createClient({ publishableKey: PUBLISHABLE_KEY, engine });
  // Fire-and-forget emits never reject unhandled; failures are reported here instead.
  meshwork.on("failed", ({ event, error }) => console.error(`meshwork: ${event.event} ${event.id} failed: ${error.message}`));
  return { engine, meshwork };
}

/** The sandbox holds what the live accounts would: the tag and the channel the rules name. */
function seedSandbox(engine: Engine): void {
  (engine.sandbox("acme-activecampaign") as ActiveCampaignSimulator).seedTag({ id: "21", tag: "onboarding-complete" });
  (engine.sandbox("acme-intercom") as IntercomSimulator).addTag({ id: "7522910", name: "Onboarding started" });
  (engine.sandbox("acme-slack") as SlackSimulator).addChannel({ id: "C0ONBOARD1", name: "onboarding" });
}

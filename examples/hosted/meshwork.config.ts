// What `meshwork serve --config examples/hosted/meshwork.config.ts` loads: the onboarding rules,
// an access key for the management API, and — because the connections are sandboxed here —
// simulators seeded with the tag and channel the rules name.
import { activecampaign, createActiveCampaignSimulator } from "@meshwork/activecampaign";
import type { Destination } from "@meshwork/destination-kit";
import { createIntercomSimulator, intercom } from "@meshwork/intercom";
import { defineConfig, env } from "@meshwork/rules";
import type { ConfigModule } from "@meshwork/server";
import { createSlackSimulator, slack } from "@meshwork/slack";

export const PUBLISHABLE_KEY = "mw_pub_acme_onboarding";
export const ACCESS_KEY = { accessKey: "mk_acme_ops", secretKey: env("MESHWORK_SECRET_KEY", "local-dev-secret-change-me") };
const mode = process.env.MESHWORK_MODE === "live" ? "live" : "sandbox";
const workspace = "acme-prod";
const onboarding = { workspace, event: "page.completed", resource: "onboarding_sequence" } as const;

const config = defineConfig({
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
    { id: "onboarding-step", ...onboarding, connection: "acme-hubspot", metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" } },
    { id: "onboarding-done-email", ...onboarding, connection: "acme-activecampaign", when: { path: "sequence_step", op: "gte", value: 3 }, metadata: { action: "add_tag", id: "21" } },
    { id: "onboarding-tag", ...onboarding, connection: "acme-intercom", metadata: { action: "add_tag", id: "7522910" } },
    {
      id: "onboarding-cheer",
      ...onboarding,
      connection: "acme-slack",
      metadata: { action: "send_message", id: "C0ONBOARD1", template: "{{email}} finished “{{page_title}}” (step {{sequence_step}})" },
    },
  ],
  accessKeys: [{ ...ACCESS_KEY, workspaces: [workspace] }],
});

// Sandbox simulators that already hold what the live accounts would (built-ins are replaced by type).
const seeded = (destination: Destination, sandbox: Destination["sandbox"]): Destination => ({ ...destination, sandbox });
const destinations: Destination[] = [
  seeded(activecampaign(), () => {
    const simulator = createActiveCampaignSimulator();
    simulator.seedTag({ id: "21", tag: "onboarding-complete" });
    return simulator;
  }),
  intercom({ simulator: createIntercomSimulator({ tags: [{ id: "7522910", name: "Onboarding started" }] }) }),
  slack({ simulator: createSlackSimulator({ channels: [{ id: "C0ONBOARD1", name: "onboarding" }] }) }),
];

export default { config, destinations, server: { port: 8787 } } satisfies ConfigModule;

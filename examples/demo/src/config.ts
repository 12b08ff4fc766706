// The demo's configuration: two tenants, each with a production and a staging workspace, five
// sandbox connections per workspace, and one rule set that every workspace gets a copy of.
import type { ConnectionConfig, RuleConfig, WorkspaceConfig } from "@meshwork/rules";
import { defineConfig } from "@meshwork/rules";
import { createWebhookSecret } from "@meshwork/webhook";

export const TENANTS = [
  { id: "acme", name: "Acme" },
  { id: "globex", name: "Globex" },
] as const;
export const ENVIRONMENTS = ["production", "staging"] as const;

export type Tenant = (typeof TENANTS)[number]["id"];
export type Env = (typeof ENVIRONMENTS)[number];
export type DestinationType = "hubspot" | "activecampaign" | "intercom" | "slack" | "webhook";

export const DESTINATION_NAMES: Record<DestinationType, string> = {
  hubspot: "HubSpot",
  activecampaign: "ActiveCampaign",
  intercom: "Intercom",
  slack: "Slack",
  webhook: "Webhook",
};

/** Ids the rules point at; the sandbox simulators are seeded with them (see `seedSandbox`). */
export const IDS = {
  hubspotExpiredTrials: "12",
  acOnboardingList: "3",
  acNextStepTag: "14",
  acTrialExpiredTag: "15",
  intercomSignedUp: "7522901",
  intercomPaymentFailed: "7522902",
  slackOnboarding: "C0ONBOARD1",
  slackGrowth: "C0GROWTH01",
  slackBilling: "C0BILLING1",
} as const;

export const workspaceId = (tenant: Tenant, env: Env) => `${tenant}-${env === "production" ? "prod" : "staging"}`;
export const publishableKey = (tenant: Tenant, env: Env) => `mw_pub_demo_${tenant}_${env}`;
export const connectionId = (workspace: string, type: DestinationType) => `${workspace}-${type}`;

/** A rule without its workspace: `connection` names a destination type, resolved per workspace. */
type RuleTemplate = Omit<RuleConfig, "workspace" | "connection"> & { connection: DestinationType };

const onboarding = { event: "page.completed", resource: "onboarding_sequence" } as const;

/** The one rule set. Staging workspaces run exactly these rules, against their own simulators. */
export const RULE_SET: RuleTemplate[] = [
  // A signup: create the CRM contact, add it to the onboarding list, tag it, tell #growth.
  {
    id: "signup-to-hubspot",
    event: "user.signup",
    connection: "hubspot",
    metadata: { action: "sync_contact", properties: { lifecyclestage: "lead" } },
    mapping: { schema_version: 1, fields: [{ dest: "firstname", source: { type: "path", value: "first_name" }, on_error: "skip_field" }] },
  },
  { id: "signup-list", event: "user.signup", connection: "activecampaign", metadata: { action: "add_to_list", id: IDS.acOnboardingList } },
  { id: "signup-tag", event: "user.signup", connection: "intercom", metadata: { action: "add_tag", id: IDS.intercomSignedUp } },
  { id: "signup-to-slack", event: "user.signup", connection: "slack", metadata: { action: "send_message", id: IDS.slackGrowth, template: "New signup: {{email}} on the {{plan}} plan" } },

  // An onboarding page was completed: record the step, start the next email, notify, forward.
  { id: "step-to-hubspot", ...onboarding, connection: "hubspot", metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" } },
  { id: "next-email", ...onboarding, connection: "activecampaign", metadata: { action: "add_tag", id: IDS.acNextStepTag } },
  { id: "step-to-intercom", ...onboarding, connection: "intercom", metadata: { action: "track_event", event_name: "onboarding-step-completed" } },
  {
    id: "step-to-slack",
    ...onboarding,
    connection: "slack",
    metadata: { action: "send_message", id: IDS.slackOnboarding, template: "{{email}} finished “{{page_title}}” (step {{sequence_step}}, {{time_on_page_seconds}} s)" },
  },
  { id: "step-webhook", ...onboarding, connection: "webhook", metadata: { action: "send_webhook" } },
  // A failed payment: tag for support, tell #billing, forward.
  { id: "dunning-tag", event: "payment.failed", connection: "intercom", metadata: { action: "add_tag", id: IDS.intercomPaymentFailed } },
  {
    id: "dunning-to-slack",
    event: "payment.failed",
    connection: "slack",
    metadata: { action: "send_message", id: IDS.slackBilling, template: "Payment failed for {{email}}: {{amount}} {{currency}} ({{reason}})" },
  },
  { id: "dunning-webhook", event: "payment.failed", connection: "webhook", metadata: { action: "send_webhook" } },

  // The trial ran out (paid plans only): list it in HubSpot, tag it in ActiveCampaign, forward.
  { id: "trial-list", event: "trial.expired", connection: "hubspot", when: { path: "plan", op: "neq", value: "free" }, metadata: { action: "add_to_list", id: IDS.hubspotExpiredTrials } },
  { id: "trial-tag", event: "trial.expired", connection: "activecampaign", metadata: { action: "add_tag", id: IDS.acTrialExpiredTag } },
  { id: "trial-webhook", event: "trial.expired", connection: "webhook", metadata: { action: "send_webhook" } },
];

/** One workspace's copy of the rule set. */
export function rulesFor(workspace: string): RuleConfig[] {
  return RULE_SET.map(({ connection, ...rule }) => ({
    ...rule,
    id: `${workspace}.${rule.id}`,
    workspace,
    connection: connectionId(workspace, connection),
  }));
}

/** Sandbox credentials: shaped like real ones, never sent anywhere but a simulator. */
function connectionsFor(tenant: Tenant, workspace: string, webhookSecret: string): ConnectionConfig[] {
  const base = (type: DestinationType) => ({ id: connectionId(workspace, type), workspace, type, name: DESTINATION_NAMES[type], mode: "sandbox" as const });
  return [
    { ...base("hubspot"), credentials: { accessToken: `pat-na1-sandbox-${tenant}` } },
    {
      ...base("activecampaign"),
      credentials: { api_url: `https://${tenant}.api-us1.com`, api_key: `sandbox-ac-key-${tenant}` },
      // ActiveCampaign allows 5 requests per second. The engine counts a request when it leaves
      // and the server when it arrives, so a window of exactly 1 s meets a 429 at its edge.
      rateLimit: { requests: 5, perMs: 1250 },
    },
    { ...base("intercom"), credentials: { accessToken: `sandbox-intercom-${tenant}` } },
    { ...base("slack"), credentials: { botToken: `xoxb-sandbox-${tenant}` } },
    { ...base("webhook"), credentials: { url: `https://hooks.${tenant}.example/meshwork`, secrets: [webhookSecret] } },
  ];
}

export interface DemoWorkspace {
  id: string;
  tenant: Tenant;
  name: string;
  env: Env;
  publishableKey: string;
  webhookSecret: string;
}

/** Every workspace of the demo, with its publishable key and its webhook signing secret. */
export function demoWorkspaces(): DemoWorkspace[] {
  return TENANTS.flatMap((tenant) =>
    ENVIRONMENTS.map((env) => ({
      id: workspaceId(tenant.id, env),
      tenant: tenant.id,
      name: `${tenant.name} (${env})`,
      env,
      publishableKey: publishableKey(tenant.id, env),
      webhookSecret: createWebhookSecret(),
    })),
  );
}

/** For `--serve`: the management API and the `meshwork` CLI read the history with this key. */
export const DEMO_ACCESS_KEY = { accessKey: "mk_demo_admin", secretKey: "demo-secret-not-for-production" };

/** The whole configuration, checked by `defineConfig`. */
export function demoConfig(workspaces: DemoWorkspace[]) {
  return defineConfig({
    accessKeys: [{ ...DEMO_ACCESS_KEY, workspaces: workspaces.map((w) => w.id) }],
    workspaces: workspaces.map(
      (w): WorkspaceConfig => ({ id: w.id, name: w.name, environment: w.env, publishableKeys: [w.publishableKey] }),
    ),
    connections: workspaces.flatMap((w) => connectionsFor(w.tenant, w.id, w.webhookSecret)),
    rules: workspaces.flatMap((w) => rulesFor(w.id)),
  });
}

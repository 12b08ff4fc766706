// Each tenant installed your Slack app into their own Slack workspace: their own bot token,
// their own channel. The configuration is generated from your tenants table, one Meshwork
// workspace per tenant, so a tenant's events can only ever reach that tenant's Slack.
import { createEngine, defineConfig, type MeshworkConfigInput } from "@meshwork/rules";
import { slack, type SlackSimulator } from "@meshwork/slack";

export interface Tenant {
  id: string;
  name: string;
  publishableKey: string;
  /** From the tenant's Slack app installation (OAuth `access_token`); kept in your database. */
  slackBotToken: string;
  /** The channel the tenant picked in your settings page. */
  slackChannel: { id: string; name: string };
}

export const TENANTS: Tenant[] = [
  {
    id: "acme",
    name: "Acme",
    publishableKey: "mw_pub_acme_7f3k2",
    slackBotToken: "xoxb-1111-acme-sandbox",
    slackChannel: { id: "C0ACMEGROW", name: "growth" },
  },
  {
    id: "globex",
    name: "Globex",
    publishableKey: "mw_pub_globex_9q8w1",
    slackBotToken: "xoxb-2222-globex-sandbox",
    slackChannel: { id: "C0GLOBEXCS", name: "customer-success" },
  },
];

/** One workspace, one Slack connection and the same two rules per tenant. */
export function configFor(tenants: Tenant[]): MeshworkConfigInput {
  return {
    workspaces: tenants.map((t) => ({ id: t.id, name: t.name, environment: "production", publishableKeys: [t.publishableKey] })),
    connections: tenants.map((t) => ({
      id: `${t.id}-slack`,
      workspace: t.id,
      type: "slack",
      name: `${t.name} Slack`,
      mode: "sandbox",
      credentials: { botToken: t.slackBotToken },
    })),
    rules: tenants.flatMap((t) => [
      {
        id: `${t.id}-signup`,
        workspace: t.id,
        connection: `${t.id}-slack`,
        event: "user.signup",
        metadata: { action: "send_message", id: t.slackChannel.id, template: ":wave: {{email}} signed up" },
      },
      {
        id: `${t.id}-step`,
        workspace: t.id,
        connection: `${t.id}-slack`,
        event: "page.completed",
        resource: "onboarding_sequence",
        metadata: { action: "send_message", id: t.slackChannel.id, template: "{{email}} finished “{{page_title}}” (step {{sequence_step}})" },
      },
    ]),
  };
}

export function createTenantEngine(tenants: Tenant[] = TENANTS) {
  const engine = createEngine({ config: defineConfig(configFor(tenants)), destinations: [slack()] });
  // Sandbox: each connection has its own simulated Slack; it only accepts that tenant's token.
  for (const t of tenants) {
    (engine.sandbox(`${t.id}-slack`) as SlackSimulator).addChannel({ id: t.slackChannel.id, name: t.slackChannel.name });
  }
  return engine;
}

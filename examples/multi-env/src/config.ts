// One tenant, two environments. The rules are written once and generated into both workspaces;
// what differs per environment is the publishable key and the connections. Staging is always
// sandboxed: its connections run the real adapters against in-memory simulators, so testing
// the production rules in staging never touches the real CRM or Slack.
import { defineConfig, type ConnectionConfig, type Environment, type RuleConfig } from "@meshwork/rules";

export const KEYS = { production: "mw_pub_acme_prod_4f9a", staging: "mw_pub_acme_staging_81bc" } as const;

/** Production credentials; without them production runs in sandbox mode too. */
export interface LiveCredentials {
  hubspotToken: string;
  slackBotToken: string;
}

type Env = keyof typeof KEYS;
type RuleTemplate = Omit<RuleConfig, "id" | "workspace" | "connection"> & { id: string; connection: "hubspot" | "slack" };

/** The rule set, written once. */
export const RULES: RuleTemplate[] = [
  {
    id: "onboarding-step",
    connection: "hubspot",
    event: "page.completed",
    resource: "onboarding_sequence",
    metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" },
  },
  {
    id: "signup-alert",
    connection: "slack",
    event: "user.signup",
    when: { not: { path: "email", op: "contains", value: "@test." } },
    metadata: { action: "send_message", id: "C0GROWTH01", template: "New signup: {{email}}" },
  },
];

const workspaceOf = (env: Env) => `acme-${env}`;

export function rulesFor(env: Env): RuleConfig[] {
  const workspace = workspaceOf(env);
  return RULES.map(({ id, connection, ...rule }) => ({ ...rule, id: `${workspace}.${id}`, workspace, connection: `${workspace}-${connection}` }));
}

function connectionsFor(env: Env, live: LiveCredentials | undefined): ConnectionConfig[] {
  const workspace = workspaceOf(env);
  // Staging never goes live, whatever credentials are around.
  const production = env === "production" && live !== undefined;
  const mode = production ? "live" : "sandbox";
  return [
    { id: `${workspace}-hubspot`, workspace, type: "hubspot", name: "HubSpot", mode, credentials: { accessToken: production ? live.hubspotToken : "pat-sandbox" } },
    { id: `${workspace}-slack`, workspace, type: "slack", name: "Slack", mode, credentials: { botToken: production ? live.slackBotToken : "xoxb-sandbox" } },
  ];
}

export function createConfig(live?: LiveCredentials) {
  const environments: Array<[Env, Environment]> = [
    ["production", "production"],
    ["staging", "staging"],
  ];
  return defineConfig({
    workspaces: environments.map(([env, environment]) => ({ id: workspaceOf(env), name: `Acme (${env})`, environment, publishableKeys: [KEYS[env]] })),
    connections: environments.flatMap(([env]) => connectionsFor(env, live)),
    rules: environments.flatMap(([env]) => rulesFor(env)),
  });
}

// The endpoint the function sends to, for running the example locally: `meshwork serve` with a
// sandbox Slack connection, created in-process with `createServer`.
import { defineConfig } from "@meshwork/rules";
import { createServer } from "@meshwork/server";

export const PUBLISHABLE_KEY = "mw_pub_acme_edge";

export function createEndpoint() {
  return createServer({
    config: defineConfig({
      workspaces: [{ id: "acme-prod", name: "Acme", environment: "production", publishableKeys: [PUBLISHABLE_KEY] }],
      connections: [{ id: "acme-slack", workspace: "acme-prod", type: "slack", name: "Slack", mode: "sandbox", credentials: { botToken: "xoxb-sandbox" } }],
      rules: [
        { id: "signup", workspace: "acme-prod", connection: "acme-slack", event: "user.signup", metadata: { action: "send_message", id: "C0GROWTH01", template: "New signup: {{email}} ({{plan}})" } },
        {
          id: "step",
          workspace: "acme-prod",
          connection: "acme-slack",
          event: "page.completed",
          metadata: { action: "send_message", id: "C0ONBOARD1", template: "{{email}} finished step {{sequence_step}}" },
        },
      ],
    }),
    logger: false,
  });
}

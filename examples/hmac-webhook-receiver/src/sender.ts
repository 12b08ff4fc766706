// The sending side: an engine with one live webhook connection pointing at the receiver over
// loopback HTTP. The SSRF guard refuses private and loopback addresses unless you allow them.
import { createEngine, defineConfig } from "@meshwork/rules";
import { webhook } from "@meshwork/webhook";

export const PUBLISHABLE_KEY = "mw_pub_acme_webhooks";

export function createSender(options: { url: string; secret: string }) {
  return createEngine({
    config: defineConfig({
      workspaces: [{ id: "acme-prod", name: "Acme", environment: "production", publishableKeys: [PUBLISHABLE_KEY] }],
      connections: [
        {
          id: "acme-webhook",
          workspace: "acme-prod",
          type: "webhook",
          name: "Acme's receiver",
          mode: "live", // a real HTTP request to `url`
          credentials: { url: options.url, secrets: [options.secret] },
        },
      ],
      rules: [
        { id: "forward-steps", workspace: "acme-prod", connection: "acme-webhook", event: "page.completed", metadata: { action: "send_webhook" } },
        { id: "forward-signups", workspace: "acme-prod", connection: "acme-webhook", event: "user.signup", metadata: { action: "send_webhook", event_type: "customer.created" } },
      ],
    }),
    // Only for this example: the receiver is on this machine.
    destinations: [webhook({ allowedHosts: ["127.0.0.1"] })],
  });
}

// `npx tsx examples/per-tenant-slack/src/main.ts`: both tenants emit the same events; each
// tenant's Slack gets only its own messages, and a rule cannot point at another tenant's connection.
import { createClient } from "@meshwork/events";
import { defineConfig, MeshworkConfigError } from "@meshwork/rules";
import type { SlackSnapshot } from "@meshwork/slack";
import { configFor, createTenantEngine, TENANTS } from "./tenants.js";

const engine = createTenantEngine();
await engine.start();

// Your backend knows the tenant of each request and picks that tenant's publishable key.
for (const tenant of TENANTS) {
  const meshwork = createClient({ publishableKey: tenant.publishableKey, engine });
  const email = `maria@${tenant.id}.example`;
  void meshwork.emit({ event: "user.signup", payload: { email } });
  void meshwork.emit({
    event: "page.completed",
    resource: "onboarding_sequence",
    payload: { email, page_title: "Create your workspace", sequence_step: 1 },
  });
  await meshwork.close(); // sends what is queued, then reports { sent, failed, dropped, pending }
}
await engine.drain();

for (const tenant of TENANTS) {
  const slack = engine.sandbox<SlackSnapshot>(`${tenant.id}-slack`).snapshot();
  console.log(`${tenant.name}'s Slack:`);
  for (const channel of slack.channels) for (const m of channel.messages) console.log(`  #${channel.name}  ${m.text}`);
}

// Isolation is checked when the configuration is loaded: a rule of Acme's that names Globex's connection is refused.
const config = configFor(TENANTS);
config.rules.push({ id: "leak", workspace: "acme", connection: "globex-slack", event: "user.signup", metadata: { action: "send_message", id: "C0GLOBEXCS" } });
try {
  defineConfig(config);
} catch (error) {
  if (!MeshworkConfigError.isInstance(error)) throw error;
  console.log(`\nA cross-tenant rule is a configuration error:\n  ${error.message}`);
}
await engine.stop();

// `npx tsx examples/serverless/src/main.ts`: plays the platform. Starts a local endpoint, calls
// the function's `fetch` as the platform would, and honours `waitUntil` the way the platform
// does: the instance "freezes" only once those promises settle.
import type { SlackSnapshot } from "@meshwork/slack";
import { createEndpoint, PUBLISHABLE_KEY } from "./endpoint.js";
import handler, { type Env } from "./handler.js";

const endpoint = createEndpoint();
const { url } = await endpoint.listen({ port: 0 });
const env: Env = { MESHWORK_PUBLISHABLE_KEY: PUBLISHABLE_KEY, MESHWORK_ENDPOINT: url };

async function invoke(method: string, path: string, body: unknown) {
  const pending: Array<Promise<unknown>> = [];
  const response = await handler.fetch(new Request(`https://app.example.com${path}`, { method, body: JSON.stringify(body) }), env, {
    waitUntil: (promise) => pending.push(promise),
  });
  console.log(`${method} ${path} → ${response.status} ${await response.text()} (waitUntil: ${pending.length})`);
  await Promise.all(pending); // the platform keeps the instance alive until these settle
}

await invoke("POST", "/signup", { email: "alex@northstar.io", plan: "pro" });
await invoke("POST", "/onboarding/steps/1/complete", { user_id: "usr_5012", email: "alex@northstar.io" });
await invoke("POST", "/onboarding/steps/2/complete", { user_id: "usr_5012", email: "alex@northstar.io" });

await endpoint.engine.drain();
const slack = endpoint.engine.sandbox<SlackSnapshot>("acme-slack").snapshot();
for (const channel of slack.channels) for (const m of channel.messages) console.log(`Slack ${channel.id}: ${m.text}`);
await endpoint.close();

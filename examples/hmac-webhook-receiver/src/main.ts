// `npx tsx examples/hmac-webhook-receiver/src/main.ts`: a receiver on 127.0.0.1, an engine
// delivering signed webhooks to it, then a forged request the receiver refuses.
import type { AddressInfo } from "node:net";
import { createClient } from "@meshwork/events";
import { createWebhookSecret } from "@meshwork/webhook";
import { createReceiver } from "./receiver.js";
import { createSender, PUBLISHABLE_KEY } from "./sender.js";

const secret = process.env.WEBHOOK_SECRET ?? createWebhookSecret(); // whsec_…, shared with the receiver

const receiver = createReceiver({
  secrets: secret,
  onEvent: (event, id) => console.log(`receiver: ${id} ${event.type} ${JSON.stringify(event.payload)}`),
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/meshwork`;
console.log(`receiver listening on ${url}`);

const engine = createSender({ url, secret });
await engine.start();
const meshwork = createClient({ publishableKey: PUBLISHABLE_KEY, engine });
void meshwork.emit({ event: "user.signup", payload: { email: "alex@northstar.io", plan: "pro" } });
void meshwork.emit({ event: "page.completed", resource: "onboarding_sequence", payload: { email: "alex@northstar.io", sequence_step: 1 } });
await meshwork.close();
await engine.drain();

const forged = await fetch(url, {
  method: "POST",
  headers: { "webhook-id": "msg_forged", "webhook-timestamp": String(Math.floor(Date.now() / 1000)), "webhook-signature": "v1,AAAA" },
  body: JSON.stringify({ type: "customer.created", payload: { email: "mallory@example.com" } }),
});
console.log(`a forged request → ${forged.status} ${await forged.text()}`);

await engine.stop();
receiver.close();

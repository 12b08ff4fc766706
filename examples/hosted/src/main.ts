// `pnpm --filter @meshwork/example-hosted start`: starts `meshwork serve` with this example's
// config (from the server's sources), then the onboarding app — the very same module as in
// ../onboarding-in-process — with a client that sends to the server over HTTP. Walks one user
// through the steps and reads the deliveries back through the management API.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { serve } from "@hono/node-server";
import { createClient } from "@meshwork/events";
import { createManagementClient } from "@meshwork/server";
import { createApp } from "../../onboarding-in-process/src/app.js";
import { ACCESS_KEY, PUBLISHABLE_KEY } from "../meshwork.config.js";

const root = join(import.meta.dirname, "..", "..", "..");

// 1. The endpoint: what `npx meshwork serve --config meshwork.config.ts` is in your project.
const server = spawn(
  process.execPath,
  ["--import", "tsx", "packages/server/src/cli.ts", "serve", "--config", "examples/hosted/meshwork.config.ts", "--port", "0", "--memory"],
  { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
);
const endpoint = await new Promise<string>((resolve, reject) => {
  server.once("exit", (code) => reject(new Error(`meshwork serve exited with ${code}`)));
  createInterface({ input: server.stdout! }).on("line", (line) => {
    const log = JSON.parse(line) as { msg?: string; url?: string };
    if (log.msg === "listening" && log.url) resolve(log.url);
  });
});
console.log(`meshwork serve on ${endpoint}`);

// 2. The app, unchanged; only the client is built differently: `endpoint` instead of `engine`.
const meshwork = createClient({ publishableKey: PUBLISHABLE_KEY, endpoint });
const app = serve({ fetch: createApp(meshwork).fetch, port: Number(process.env.PORT ?? 3000), hostname: "127.0.0.1" });
await new Promise<void>((resolve) => app.once("listening", resolve));
const url = `http://127.0.0.1:${(app.address() as { port: number }).port}`;
console.log(`onboarding app on ${url}`);

const user = { "x-user-id": "usr_5012", "x-user-email": "alex@northstar.io", "content-type": "application/json" };
for (const step of [1, 2, 3]) {
  const response = await fetch(`${url}/onboarding/steps/${step}/complete`, { method: "POST", headers: user, body: "{}" });
  console.log(`POST /onboarding/steps/${step}/complete → ${response.status}`);
}
console.log("client:", await meshwork.close()); // sends what is queued: { sent, failed, dropped, pending }

// 3. What happened, from the management API (the `meshwork events list` CLI uses the same).
const management = createManagementClient({ url: endpoint, ...ACCESS_KEY });
type Listing = { records: Array<{ id: string; status: string }> };
let { records } = await management.request<Listing>("GET", "/events?workspace=acme-prod");
// Deliveries run in the background (Slack takes one message per second per channel): wait for them.
for (let i = 0; i < 50 && records.some((e) => e.status === "pending" || e.status === "processing"); i++) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  ({ records } = await management.request<Listing>("GET", "/events?workspace=acme-prod"));
}
for (const { id } of records.reverse()) {
  const event = await management.request<{ payload: { sequence_step: number }; rule_events: Array<{ rule_id: string; status: string }> }>("GET", `/events/${id}/payload`);
  console.log(`step ${event.payload.sequence_step}: ${event.rule_events.map((d) => `${d.rule_id} ${d.status}`).join(", ")}`);
}

app.close();
server.kill("SIGTERM");

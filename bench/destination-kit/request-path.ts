// The cost of one simulated request, layer by layer: a bare ofetch call through a fake `fetch`
// (the bound), then runAction with that fake fetch, then runAction against a Hono simulator.
//   npx tsx bench/destination-kit/request-path.ts [N]
import { createFetch } from "ofetch";
import { acme, createAcmeSimulator } from "../../packages/destination-kit/src/__fixtures__/acme.js";
import { runAction } from "../../packages/destination-kit/src/index.js";

const N = Number(process.argv[2] ?? 20_000);
const answer = JSON.stringify({ id: 1 });
const fakeFetch = (async () => new Response(answer, { status: 201, headers: { "content-type": "application/json" } })) as typeof fetch;

async function measure(name: string, once: () => Promise<unknown>) {
  for (let i = 0; i < 2000; i++) await once();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await once();
  const cpu = process.cpuUsage(cpu0);
  const wall = ((performance.now() - t0) * 1000) / N;
  console.log(`${name.padEnd(44)} ${wall.toFixed(1).padStart(7)} µs wall  ${((cpu.user + cpu.system) / N).toFixed(1).padStart(7)} µs CPU`);
}

const $fetch = createFetch({ fetch: fakeFetch });
const metadata = { text: "step {{sequence_step}} done", contact: "{{email}}" };
const input = {
  destination: acme(),
  action: "add_note",
  credentials: { token: "acme-secret-token" },
  metadata,
  event: { id: "evt_1", event: "page.completed", payload: { email: "alex@northstar.io", sequence_step: 3 }, workspace: "w", created_at: "2026-11-26T00:00:00.000Z" },
  idempotencyKey: "del_1",
  connection: { id: "c1", workspace: "w", type: "acme", mode: "sandbox" as const },
  signal: new AbortController().signal,
};
const sim = createAcmeSimulator();

// Three rounds, interleaved, so a noisy neighbour hits every layer alike.
for (let round = 1; round <= 3; round++) {
  await measure("ofetch → fake fetch (the bound)", () =>
    $fetch.raw("/v1/notes", { baseURL: "https://api.acme.test", method: "POST", body: { text: "a", contact: "b" }, responseType: "text" }),
  );
  await measure("runAction → fake fetch", () => runAction({ ...input, fetch: fakeFetch }));
  await measure("runAction → Hono simulator", () => runAction({ ...input, fetch: sim.fetch }));
}

// Engine benchmark: deliveries per second from `ingest` until every delivery is completed
// (4 rules per event), and ingest-to-delivered latency at a steady 1,000 events/s.
// Runs against the built packages: build first, then run (see docs/benchmarks.md):
//
//   (cd packages/destination-kit && npx tsup) && (cd packages/rules && npx tsup) && node bench/rules/engine.mjs
//
// Each scenario runs in its own child process so one's heap does not weigh on the next.
// Env: EVENTS (default 50000), LATENCY_SECONDS (default 10), LATENCY_RATE (default 1000),
// SCENARIOS (comma list, default all), SANDBOX_EVENTS (default EVENTS).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);
const root = join(here, "../../..");
const SCENARIOS = ["fetch-bound", "noop-memory", "noop-sqlite", "sandbox-memory", "sandbox-sqlite", "latency-memory", "latency-sqlite"];
const KEY = "mw_pub_bench_0123456789";
const RULES = 4;

// ─── destinations ─────────────────────────────────────────────────────────────────────────

async function noopSetup() {
  const { defineAction, defineDestination } = await import("@meshwork/destination-kit");
  // zod as @meshwork/rules resolves it (the bench package does not depend on it directly).
  const { z } = createRequire(join(root, "packages/rules/package.json"))("zod");
  const noop = defineDestination({
    type: "noop",
    name: "No-op",
    credentials: z.object({ token: z.string() }),
    baseUrl: "https://noop.test",
    actions: {
      ping: defineAction({
        description: "Does nothing",
        metadata: z.object({ note: z.string().optional() }),
        async perform() {
          return { summary: "ok" };
        },
      }),
    },
    sandbox: () => {
      throw new Error("no sandbox");
    },
  });
  const connections = Array.from({ length: RULES }, (_, i) => ({
    id: `noop-${i}`,
    workspace: "bench",
    type: "noop",
    name: `No-op ${i}`,
    mode: "live",
    credentials: { token: `secret-token-${i}` },
    concurrency: 256,
  }));
  const rules = connections.map((c, i) => ({
    id: `rule-${i}`,
    workspace: "bench",
    connection: c.id,
    event: "page.completed",
    metadata: { action: "ping", note: "step {{sequence_step}}" },
  }));
  return { destinations: [noop], connections, rules };
}

const simulators = [];
const simulatedRequests = () => simulators.reduce((sum, simulator) => sum + simulator.requestCount(), 0);

/** The real adapters against their sandbox simulators, with the simulated vendor limits lifted. */
async function sandboxSetup() {
  const load = (name) => import(join(root, `packages/${name}/dist/index.js`));
  const [{ hubspot, createHubspotSimulator }, { activecampaign, createActiveCampaignSimulator }, { intercom, createIntercomSimulator }, { webhook }] =
    await Promise.all([load("hubspot"), load("activecampaign"), load("intercom"), load("webhook")]);
  const unlimited = { max: 1e9, intervalMs: 1000 };
  const destinations = [
    { ...hubspot(), sandbox: () => createHubspotSimulator({ rateLimit: unlimited, dailyLimit: 1e12 }) },
    {
      ...activecampaign(),
      sandbox: () => {
        const simulator = createActiveCampaignSimulator({ rateLimit: unlimited });
        simulator.seedTag({ id: "11", tag: "next-step" });
        return simulator;
      },
    },
    { ...intercom(), sandbox: () => createIntercomSimulator() },
    webhook(),
  ].map((destination) => ({
    ...destination,
    // Kept, to count the simulated requests.
    sandbox: (connection) => {
      const simulator = destination.sandbox(connection);
      simulators.push(simulator);
      return simulator;
    },
  }));
  const common = { workspace: "bench", mode: "sandbox", rateLimit: { requests: 1_000_000, perMs: 1000 }, concurrency: 64 };
  const connections = [
    { ...common, id: "hubspot", type: "hubspot", name: "HubSpot", credentials: { accessToken: "pat-na1-0b6f3a52-9d8e-4c1b-a7f2-5e4d3c2b1a09" } },
    { ...common, id: "activecampaign", type: "activecampaign", name: "ActiveCampaign", credentials: { api_url: "https://northstar.api-us1.com", api_key: "4f7c2b9e1d0a8f6e5c3b2a1908f7e6d5c4b3a2910f8e7d6c5b4a39281f0e9d8c7b6a5f4e" } },
    { ...common, id: "intercom", type: "intercom", name: "Intercom", credentials: { accessToken: "dG9rOmJlbmNoLXRva2Vu", region: "eu" } },
    { ...common, id: "webhook", type: "webhook", name: "Webhook", credentials: { url: "https://hooks.northstar.io/meshwork/inbound", secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] } },
  ];
  const rules = [
    { id: "hubspot-sync", connection: "hubspot", metadata: { action: "sync_contact", properties: { onboarding_step: "{{sequence_step}}" } } },
    { id: "ac-tag", connection: "activecampaign", metadata: { action: "add_tag", id: "11" } },
    { id: "intercom-tag", connection: "intercom", metadata: { action: "add_tag", id: "7522907" } },
    { id: "webhook-send", connection: "webhook", metadata: { action: "send_webhook" } },
  ].map((r) => ({ ...r, workspace: "bench", event: "page.completed" }));
  return { destinations, connections, rules };
}

// ─── scenarios (child process) ────────────────────────────────────────────────────────────

async function makeEngine(kind, storeKind, dir) {
  const { createEngine, defineConfig, memoryStore, sqliteStore } = await import("@meshwork/rules");
  const setup = kind === "sandbox" ? await sandboxSetup() : await noopSetup();
  const config = defineConfig({
    workspaces: [{ id: "bench", name: "Bench", environment: "production", publishableKeys: [KEY] }],
    connections: setup.connections,
    rules: setup.rules,
  });
  let store = storeKind === "sqlite" ? sqliteStore({ path: join(dir, "bench.db"), ...(process.env.CKPT && { checkpoint: process.env.CKPT }), ...(process.env.CKPT_MS && { checkpointIntervalMs: Number(process.env.CKPT_MS) }) }) : memoryStore();
  if (process.env.DEBUG_STORE) {
    const inner = store;
    const slow = [];
    const timed = (name) => async (...args) => {
      const t = performance.now();
      try {
        return await inner[name](...args);
      } finally {
        const ms = performance.now() - t;
        if (ms > 15) slow.push(`${name} ${ms.toFixed(1)} ms (${args[0]?.length ?? args[0]?.deliveries?.length ?? ""})`);
      }
    };
    store = { ...inner, insertEvents: timed("insertEvents"), write: timed("write"), close: async () => { console.error(slow.join("\n")); await inner.close(); } };
  }
  const engine = createEngine({ config, destinations: setup.destinations, store, logger: { warn() {}, error: (m) => console.error(m) } });
  await engine.start();
  return engine;
}

const event = (i) => ({
  id: `evt-${String(i).padStart(8, "0")}`,
  event: "page.completed",
  resource: "onboarding_sequence",
  resource_id: "workspace-setup",
  payload: { email: `user${i % 5000}@northstar.io`, user_id: `usr_${i}`, sequence_step: (i % 7) + 1, plan: "pro" },
});

async function throughput(kind, storeKind, dir) {
  const events = Number(process.env[kind === "sandbox" ? "SANDBOX_EVENTS" : "EVENTS"] ?? process.env.EVENTS ?? 50_000);
  const engine = await makeEngine(kind, storeKind, dir);
  // Warm-up: JIT and the store's first pages, not counted.
  await engine.ingest(Array.from({ length: 200 }, (_, i) => event(1e9 + i)), { publishableKey: KEY });
  await engine.drain({ timeoutMs: 600_000 });
  const requests0 = simulatedRequests();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  for (let i = 0; i < events; i += 100) {
    const batch = [];
    for (let j = i; j < Math.min(events, i + 100); j++) batch.push(event(j));
    await engine.ingest(batch, { publishableKey: KEY });
  }
  const ingested = performance.now();
  await engine.drain({ timeoutMs: 600_000 });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const stats = engine.stats();
  if (process.env.DEBUG) console.error("abort listeners on the engine signal:", (await import("node:events")).getEventListeners(engine.abort.signal, "abort").length);
  const failed = await engine.events.list({ workspace: "bench", status: ["failed", "pending", "processing"], limit: 5 });
  if (process.env.DEBUG) for (const e of failed.records) console.error(JSON.stringify((await engine.events.get(e.id)).deliveries.filter((d) => d.status !== "completed").map((d) => [d.rule_id, d.status, d.last_error])));
  await engine.stop();
  const deliveries = events * RULES;
  const requests = simulatedRequests() - requests0;
  return {
    deliveries,
    ...(requests && { requests, requestsPerSecond: Math.round(requests / (ms / 1000)) }),
    ms: Math.round(ms),
    ingestMs: Math.round(ingested - t0),
    perSecond: Math.round(deliveries / (ms / 1000)),
    cpuUsPerDelivery: +((cpu.user + cpu.system) / deliveries).toFixed(1),
    mainThreadBusy: +elu.utilization.toFixed(2),
    unfinished: stats.open + failed.records.length,
  };
}

/** Sends `count` events at `rate` per second, each in its own ingest call; `onSent(id, at)` for each. */
async function paced(engine, count, rate, offset, onSent) {
  const start = performance.now();
  let sent = 0;
  const pending = [];
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        const e = event(offset + sent);
        onSent(e.id, performance.now());
        pending.push(engine.ingest([e], { publishableKey: KEY }));
      }
      if (sent >= count) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(pending);
  return (performance.now() - start) / 1000;
}

async function latency(storeKind, dir) {
  const seconds = Number(process.env.LATENCY_SECONDS ?? 10);
  const rate = Number(process.env.LATENCY_RATE ?? 1000);
  const engine = await makeEngine("noop", storeKind, dir);
  // Warm-up at the same rate (JIT, the store's caches), not measured.
  await paced(engine, 2 * rate, rate, 2e9, () => {});
  await engine.drain();
  const sentAt = new Map();
  const samples = [];
  const windows = [];
  const start = performance.now();
  engine.on("delivery", (d) => {
    if (d.status !== "completed") return;
    const at = sentAt.get(d.event_id);
    if (at === undefined) return;
    const now = performance.now();
    samples.push(now - at);
    if (process.env.DEBUG) (windows[Math.floor((now - start) / 1000)] ??= []).push(now - at);
  });
  const elapsed = await paced(engine, seconds * rate, rate, 0, (id, at) => sentAt.set(id, at));
  await engine.drain({ timeoutMs: 120_000 });
  await engine.stop();
  if (process.env.DEBUG) for (const [i, w] of windows.entries()) if (w) console.error(`second ${i}: ${w.length} deliveries, median ${w.sort((a, b) => a - b)[w.length >> 1].toFixed(1)} ms, max ${w[w.length - 1].toFixed(1)} ms`);
  samples.sort((a, b) => a - b);
  const pick = (q) => +samples[Math.min(samples.length - 1, Math.floor(q * samples.length))].toFixed(2);
  return { deliveries: samples.length, rate: Math.round((seconds * rate) / elapsed), p50: pick(0.5), p99: pick(0.99), max: +samples[samples.length - 1].toFixed(2) };
}

/**
 * The issue's reference for the sandbox setting: one bare ofetch call through a fake `fetch` that
 * builds a `Response`. It measured 31 µs there and put the bound near 15,000 simulated requests/s
 * per core (the simulator's side costs about as much again); scaled here by this call's cost.
 */
async function fetchBound() {
  // ofetch as destination-kit imports it (its ESM Node build).
  const ofetchPackage = createRequire(join(root, "packages/destination-kit/package.json")).resolve("ofetch/package.json");
  const { createFetch } = await import(join(ofetchPackage, "../dist/node.mjs"));
  const answer = JSON.stringify({ id: 1 });
  const $fetch = createFetch({ fetch: async () => new globalThis.Response(answer, { status: 201, headers: { "content-type": "application/json" } }) });
  const call = () => $fetch.raw("/v1/notes", { baseURL: "https://api.acme.test", method: "POST", body: { text: "a", contact: "b" }, responseType: "text" });
  const rounds = [];
  for (let round = 0; round < 6; round++) {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < 20_000; i++) await call();
    const cpu = process.cpuUsage(cpu0);
    if (round > 0) rounds.push((cpu.user + cpu.system) / 20_000);
  }
  const us = rounds.sort((a, b) => a - b)[2];
  return { ofetchUs: +us.toFixed(1), boundPerSecond: Math.round((15_000 * 31) / us) };
}

async function child(name) {
  const dir = mkdtempSync(join(tmpdir(), "meshwork-bench-"));
  try {
    const [kind, storeKind] = name.split("-");
    const result =
      name === "fetch-bound" ? await fetchBound() : kind === "latency" ? await latency(storeKind, dir) : await throughput(kind, storeKind, dir);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ─── parent ───────────────────────────────────────────────────────────────────────────────

function main() {
  const wanted = (process.env.SCENARIOS ?? SCENARIOS.join(",")).split(",").filter(Boolean);
  const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(`# @meshwork/rules engine benchmark — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}, load average ${load()}`);
  const results = {};
  const runScenario = (name) => {
    const run = spawnSync(process.execPath, ["--max-old-space-size=4096", here, "--scenario", name], { encoding: "utf8", env: process.env, maxBuffer: 1 << 24 });
    const line = run.stdout.trim().split("\n").pop();
    if (run.status !== 0 || !line?.startsWith("{")) {
      console.log(`${name}: failed (${run.status})\n${run.stderr}`);
      return undefined;
    }
    if (process.env.DEBUG) process.stderr.write(run.stderr);
    console.log(`${name.padEnd(16)} ${line}   (load ${load()})`);
    return JSON.parse(line);
  };
  // The fetch bound is a short CPU-bound loop, and this machine's speed drifts by tens of percent
  // over minutes: it is measured right before and right after each sandbox scenario, and each
  // scenario is compared with the mean of those two.
  const measureBound = wanted.includes("fetch-bound");
  const bounds = [];
  let lastBound = measureBound ? runScenario("fetch-bound") : undefined;
  if (lastBound) bounds.push(lastBound);
  for (const name of wanted.filter((n) => n !== "fetch-bound")) {
    const result = runScenario(name);
    if (!result) continue;
    results[name] = result;
    if (measureBound && name.startsWith("sandbox")) {
      const before = lastBound;
      lastBound = runScenario("fetch-bound");
      if (lastBound) bounds.push(lastBound);
      const around = [before, lastBound].filter(Boolean).map((b) => b.boundPerSecond);
      if (around.length) result.boundPerSecond = Math.round(around.reduce((a, b) => a + b, 0) / around.length);
    }
  }
  console.log("\n| setting | store | deliveries | time | deliveries/s | CPU µs/delivery | engine thread busy | simulated requests/s | of the fetch bound |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const name of wanted.filter((n) => n.startsWith("noop") || n.startsWith("sandbox"))) {
    const r = results[name];
    if (!r) continue;
    const [kind, store] = name.split("-");
    const share = r.requestsPerSecond && r.boundPerSecond ? `${Math.round((100 * r.requestsPerSecond) / r.boundPerSecond)} % of ${r.boundPerSecond.toLocaleString("en")}` : "";
    console.log(`| ${kind === "noop" ? "no-op destination" : "sandbox simulators"} | ${store} | ${r.deliveries.toLocaleString("en")} | ${(r.ms / 1000).toFixed(1)} s | ${r.perSecond.toLocaleString("en")} | ${r.cpuUsPerDelivery} | ${Math.round(100 * r.mainThreadBusy)} % | ${r.requestsPerSecond?.toLocaleString("en") ?? ""} | ${share} |${r.unfinished ? ` (${r.unfinished} unfinished!)` : ""}`);
  }
  if (bounds.length) {
    const us = bounds.map((b) => b.ofetchUs).join(", ");
    console.log(`\nfetch bound: ofetch → fake fetch ${us} µs of CPU per call here in this run's measurements (31 µs in the issue), so the issue's 15,000 simulated requests/s per core scales to ${bounds.map((b) => b.boundPerSecond.toLocaleString("en")).join(", ")}; each sandbox row is compared with the mean of the measurements just before and after it; target: within 80 % of it`);
  }
  console.log("\n| latency (no-op, steady) | store | achieved events/s | deliveries | p50 | p99 | max |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const name of wanted.filter((n) => n.startsWith("latency"))) {
    const r = results[name];
    if (!r) continue;
    console.log(`| ingest → delivered | ${name.split("-")[1]} | ${r.rate.toLocaleString("en")} | ${r.deliveries.toLocaleString("en")} | ${r.p50} ms | ${r.p99} ms | ${r.max} ms |`);
  }
}

const scenario = process.argv.indexOf("--scenario");
if (scenario !== -1) await child(process.argv[scenario + 1]);
else main();

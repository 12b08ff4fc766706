// Benchmark of @meshwork/server: ingestion on SQLite under autocannon, then end to end with
// sandbox destinations, then a backlog (ingest faster than delivery) with RSS sampled.
//   node --import tsx bench/server/run.ts [--duration=10] [--only=ingest,e2e,backlog] [--bulk-connections=8] [--single-connections=32]
// The server runs in its own process (bench/server/serve.ts), autocannon in another; this
// process only orchestrates and reads the server's /metrics. Results: stdout (markdown) and
// bench/results/server-<time>.json.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { useBuiltPackages } from "../built.ts";

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const DURATION = Number(arg("duration", "10"));
const ONLY = arg("only", "ingest,e2e,backlog").split(",");
const BULK_CONNECTIONS = Number(arg("bulk-connections", "8"));
const SINGLE_CONNECTIONS = Number(arg("single-connections", "32"));
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const REPO = here("../..");
const AUTOCANNON = here("../node_modules/autocannon/autocannon.js");
const KEY = "mw_pub_bench_0123456789abcdef";
const tmp = mkdtempSync(join(os.tmpdir(), "meshwork-server-bench-"));

interface Cannon {
  duration: number;
  "2xx": number;
  non2xx: number;
  errors: number;
  timeouts: number;
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number; max: number };
}

useBuiltPackages(["destination-kit", "rules", "webhook", "server"]);

// ─── processes ────────────────────────────────────────────────────────────────────────────────

async function startServer(scenario: string, extra: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const db = join(tmp, `${scenario}-${Date.now()}.db`);
  const child = spawn(process.execPath, ["--import", "tsx", here("./serve.ts"), `--scenario=${scenario}`, `--db=${db}`, ...extra], {
    cwd: REPO,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line.startsWith("{")) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { url, child };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

async function startReceiver(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [here("./receiver.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolve) => {
    createInterface({ input: child.stdout! }).on("line", (line) => resolve((JSON.parse(line) as { url: string }).url));
  });
  return { url, child };
}

/** autocannon in its own process; answers its JSON report. */
/** `keyed`: a new Idempotency-Key on every request (bench/server/keyed.mjs). */
function autocannon(url: string, options: { connections: number; duration: number; body: string; rate?: number; keyed?: boolean }): Promise<Cannon> {
  const headers = { "content-type": "application/json", "x-meshes-publishable-key": KEY };
  const keyed = [here("./keyed.mjs"), JSON.stringify({ url, connections: options.connections, duration: options.duration, body: options.body, headers })];
  const args = options.keyed ? keyed : [
    AUTOCANNON,
    "-c", String(options.connections),
    "-d", String(options.duration),
    "-m", "POST",
    "-H", "content-type=application/json",
    "-H", `x-meshes-publishable-key=${KEY}`,
    "-i", options.body,
    "-n", "-j",
    ...(options.rate ? ["-R", String(options.rate)] : []),
    url,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as Cannon) : reject(new Error(`autocannon exited with ${code}`))));
  });
}

// ─── metrics ──────────────────────────────────────────────────────────────────────────────────

async function metrics(url: string) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = (prefix: string, filter: (labels: string) => boolean = () => true) => {
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(prefix)) continue;
      const rest = line.slice(prefix.length);
      const labels = rest.startsWith("{") ? rest.slice(1, rest.indexOf("}")) : "";
      if ((rest.startsWith("{") || rest.startsWith(" ")) && filter(labels)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  };
  return {
    accepted: sum("meshwork_ingested_events_total", (l) => l.includes('result="accepted"')),
    completed: sum("meshwork_deliveries_total", (l) => l.includes('status="completed"')),
    failed: sum("meshwork_deliveries_total", (l) => l.includes('status="failed"') || l.includes('status="canceled"')),
    open: sum("meshwork_open_deliveries"),
    rssMb: sum("meshwork_process_resident_memory_bytes") / 1024 / 1024,
    heapMb: sum("meshwork_nodejs_heap_size_used_bytes") / 1024 / 1024,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ─── bodies ───────────────────────────────────────────────────────────────────────────────────

const event = (i: number) => ({ event: "bench.event", resource: "onboarding", resource_id: "step-3", payload: { email: `user${i}@northstar.io`, plan: "pro", step: i, utm: { source: "bench" } } });
const bulkFile = join(tmp, "bulk.json");
const singleFile = join(tmp, "single.json");
writeFileSync(bulkFile, JSON.stringify(Array.from({ length: 100 }, (_, i) => event(i))));
writeFileSync(singleFile, JSON.stringify(event(1)));

// ─── scenarios ────────────────────────────────────────────────────────────────────────────────

const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, load: os.loadavg() };
const rows: string[] = [];

async function ingest(scenario: "noop" | "norule") {
  const server = await startServer(scenario);
  try {
    await autocannon(`${server.url}/api/v1/events/bulk`, { connections: BULK_CONNECTIONS, duration: 2, body: bulkFile }); // warm-up
    for (const [kind, path, body, connections, per, keyed] of [
      ["bulk of 100", "/api/v1/events/bulk", bulkFile, BULK_CONNECTIONS, 100, false],
      ["single event", "/api/v1/events", singleFile, SINGLE_CONNECTIONS, 1, false],
      ["bulk of 100 with an Idempotency-Key each", "/api/v1/events/bulk", bulkFile, BULK_CONNECTIONS, 100, true],
    ] as const) {
      if (keyed && scenario !== "noop") continue;
      const before = await metrics(server.url);
      const r = await autocannon(`${server.url}${path}`, { connections, duration: DURATION, body, keyed });
      const after = await metrics(server.url);
      const eventsPerSec = (r["2xx"] * per) / r.duration;
      const committed = (after.accepted - before.accepted) / r.duration;
      const label = `${kind}, ${scenario === "noop" ? "1 no-op delivery per event" : "no rule matched (no deliveries)"}`;
      results[`ingest ${label}`] = { connections, ...r, eventsPerSec, committedPerSec: committed };
      rows.push(
        `| ${label} | ${connections} | ${Math.round(r["2xx"] / r.duration).toLocaleString("en")} | ${Math.round(eventsPerSec).toLocaleString("en")} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx + r.errors + r.timeouts} |`,
      );
      console.error(`ingest ${label}: ${Math.round(eventsPerSec)} events/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms (server counted ${Math.round(committed)}/s)`);
      await sleep(scenario === "noop" ? 3000 : 500); // let the deliveries of the last run finish
    }
  } finally {
    await stop(server.child);
  }
}

/** Raises a paced ingest rate until the open deliveries keep growing: the highest rate delivery keeps up with. */
async function e2e() {
  const server = await startServer("sandbox");
  const ladder = [100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 4000, 6000];
  const out: Array<Record<string, number>> = [];
  let sustained = 0;
  try {
    for (const rate of ladder) {
      const before = await metrics(server.url);
      const t0 = performance.now();
      const r = await autocannon(`${server.url}/api/v1/events/bulk`, { connections: 4, duration: DURATION, body: bulkFile, rate: rate / 100 });
      const mid = await metrics(server.url);
      const seconds = (performance.now() - t0) / 1000;
      const deliveredPerSec = (mid.completed - before.completed) / seconds;
      const ingestedPerSec = (mid.accepted - before.accepted) / seconds;
      // Kept up: the deliveries still open at the end are under 10 % of those offered in the step.
      const keptUp = mid.open - before.open < 2 * rate * seconds * 0.1;
      out.push({ offered: rate, ingestedPerSec, deliveredPerSec, openAfter: mid.open, p99: r.latency.p99, rssMb: mid.rssMb });
      console.error(`e2e ${rate} events/s offered: ingested ${Math.round(ingestedPerSec)}/s, delivered ${Math.round(deliveredPerSec)}/s (2 per event), open after ${mid.open}, rss ${mid.rssMb.toFixed(0)} MB`);
      if (!keptUp) break;
      sustained = rate;
      // Let any backlog drain before the next step.
      for (let i = 0; i < 30 && (await metrics(server.url)).open > 0; i++) await sleep(500);
    }
  } finally {
    await stop(server.child);
  }
  results.e2e = { ladder: out, sustainedEventsPerSec: sustained };
  return { out, sustained };
}

/** Ingests as fast as possible for a while (faster than delivery), then waits for the backlog to drain, sampling RSS. */
async function backlog(scenario: "sandbox" | "receiver", maxOpen: number) {
  const receiver = scenario === "receiver" ? await startReceiver() : undefined;
  const server = await startServer(scenario, [...(receiver ? [`--receiver=${receiver.url}`] : []), `--max-open=${maxOpen}`]);
  const samples: Array<{ t: number; accepted: number; completed: number; open: number; rssMb: number; heapMb: number }> = [];
  const t0 = performance.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = await metrics(server.url);
      samples.push({ t: Math.round((performance.now() - t0) / 100) / 10, accepted: m.accepted, completed: m.completed, open: m.open, rssMb: Math.round(m.rssMb), heapMb: Math.round(m.heapMb) });
      await sleep(1000);
    }
  })();
  try {
    const r = await autocannon(`${server.url}/api/v1/events/bulk`, { connections: BULK_CONNECTIONS, duration: 15, body: bulkFile });
    const ingestEnd = (performance.now() - t0) / 1000;
    let m = await metrics(server.url);
    const deadline = performance.now() + 240_000;
    while (m.open > 0 && performance.now() < deadline) {
      await sleep(1000);
      m = await metrics(server.url);
    }
    const drained = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    const expected = m.accepted * 2;
    await sleep(2000);
    const settled = await metrics(server.url);
    const summary = {
      maxOpen,
      ingested: m.accepted,
      acknowledged: r["2xx"] * 100,
      refused503: r.non2xx,
      deliveriesExpected: expected,
      deliveriesCompleted: m.completed,
      deliveriesFailedOrCanceled: m.failed,
      openAtEnd: m.open,
      ingestSeconds: ingestEnd,
      drainedAfterSeconds: drained,
      peakOpen: Math.max(...samples.map((s) => s.open)),
      rssStartMb: samples[0]?.rssMb,
      rssPeakMb: Math.max(...samples.map((s) => s.rssMb)),
      rssEndMb: Math.round(m.rssMb),
      heapPeakMb: Math.max(...samples.map((s) => s.heapMb)),
      heapEndMb: Math.round(settled.heapMb),
    };
    results[`backlog ${scenario} max-open ${maxOpen}`] = { summary, samples };
    console.error(`backlog (${scenario}): ${JSON.stringify(summary)}`);
    return summary;
  } finally {
    sampling = false;
    await stop(server.child);
    if (receiver) await stop(receiver.child);
  }
}

// ─── run ──────────────────────────────────────────────────────────────────────────────────────

console.error(`meshwork server bench: ${os.cpus().length} cpus, load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, ${DURATION}s per run`);
const report: string[] = [];
if (ONLY.includes("ingest")) {
  await ingest("noop");
  await ingest("norule");
  report.push(
    "| ingestion (SQLite, autocannon) | connections | requests/s | events/s committed | p50 ms | p99 ms | non-2xx/errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  );
}
if (ONLY.includes("e2e")) {
  const { out, sustained } = await e2e();
  report.push(
    "| end to end, 2 sandbox webhook deliveries per event | offered events/s | ingested/s | deliveries/s | open deliveries after | RSS MB |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...out.map((o) => `| paced bulk ingest | ${o.offered} | ${Math.round(o.ingestedPerSec!)} | ${Math.round(o.deliveredPerSec!)} | ${o.openAfter} | ${Math.round(o.rssMb!)} |`),
    "",
    `Highest offered rate delivery kept up with: ${sustained} events/s (${sustained * 2} deliveries/s).`,
    "",
  );
}
if (ONLY.includes("backlog")) {
  report.push(
    "| backlog: 15 s of bulk ingest at full speed, 2 live webhook deliveries per event to a local receiver | maxOpenDeliveries | events accepted | 503 answers | peak open deliveries | deliveries completed / expected | drained after s | RSS start → peak → end MB | heap peak → end MB |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const maxOpen of [20_000, 0]) {
    const s = await backlog("receiver", maxOpen);
    report.push(
      `| ${maxOpen ? "backpressure on" : "backpressure off"} | ${maxOpen ? maxOpen.toLocaleString("en") : "off"} | ${s.ingested.toLocaleString("en")} | ${s.refused503.toLocaleString("en")} | ${s.peakOpen.toLocaleString("en")} | ${s.deliveriesCompleted.toLocaleString("en")} / ${s.deliveriesExpected.toLocaleString("en")} | ${s.drainedAfterSeconds.toFixed(0)} | ${s.rssStartMb} → ${s.rssPeakMb} → ${s.rssEndMb} | ${s.heapPeakMb} → ${s.heapEndMb} |`,
    );
  }
  report.push("");
}
console.log(report.join("\n"));
mkdirSync(here("../results"), { recursive: true });
const file = here(`../results/server-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
writeFileSync(file, JSON.stringify(results, null, 2));
console.error(`results: ${file}`);
rmSync(tmp, { recursive: true, force: true });

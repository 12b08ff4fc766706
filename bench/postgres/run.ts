// Deliveries per second with 1, 2 and 4 worker processes sharing one Postgres, and
// ingest-to-delivered latency. Prints numbers; not a test.
//
//   npx tsx bench/postgres/run.ts [--deliveries 40000] [--workers 1,2,4] [--rate 2000]
//
// Destination: the flaky fixture's sandbox simulator with no faults and no delay (an in-process
// fetch handler: what is measured is Meshwork and Postgres, not a network). Workers run the
// built packages: `npm run build` first. Env DATABASE_URL,
// default postgres://postgres@127.0.0.1:5432/test. Each run uses a fresh schema, dropped after.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import pg from "pg";
import { migrate } from "../../packages/postgres/src/index.ts";
import { useBuiltPackages } from "../built.ts";
import type { ClusterConfig } from "../../packages/postgres/src/__fixtures__/cluster.ts";
import { startChild, stopChild, type Child } from "../../packages/postgres/src/__fixtures__/processes.ts";

const { values } = parseArgs({
  options: {
    deliveries: { type: "string", default: "40000" },
    workers: { type: "string", default: "1,2,4" },
    rate: { type: "string", default: "1000" },
    "latency-seconds": { type: "string", default: "10" },
    /** `noop`: the action makes no request (engine + Postgres only); `http`: one request to the in-process simulator. */
    destination: { type: "string", default: "noop,http" },
  },
});
useBuiltPackages(["destination-kit", "rules", "postgres"]);
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const CONNECTIONS = 4;
let config: ClusterConfig = { connections: CONNECTIONS, concurrency: 256, timeoutMs: 10_000, breaker: { failureThreshold: 0 } };
const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });

async function fresh(name: string): Promise<string> {
  const schema = `mw_bench_${name}_${process.pid}`;
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await migrate({ connectionString: DATABASE_URL, schema });
  return schema;
}

const open = async (schema: string) => Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.deliveries WHERE status <> 'completed'`)).rows[0].n);

async function waitUntilDone(schema: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await open(schema)) > 0) {
    if (Date.now() > deadline) throw new Error(`not done after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * CPU time of the Postgres backends serving Meshwork (application_name "meshwork"), from
 * /proc: sampled every 250 ms so backends that come and go are counted. Linux only.
 */
function backendCpu() {
  const ticks = new Map<number, { first: number; last: number }>();
  const read = (pid: number) => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks
    } catch {
      return undefined;
    }
  };
  let stopped = false;
  const sample = async () => {
    const { rows } = await admin.query(`SELECT pid FROM pg_stat_activity WHERE application_name = 'meshwork'`);
    for (const { pid } of rows as Array<{ pid: number }>) {
      const t = read(pid);
      if (t === undefined) continue;
      const seen = ticks.get(pid);
      if (seen) seen.last = t;
      else ticks.set(pid, { first: t, last: t });
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    /** CPU seconds the backends used while sampled (their first sample is the baseline). */
    async stop(): Promise<number> {
      stopped = true;
      await loop;
      await sample();
      let total = 0;
      for (const { first, last } of ticks.values()) total += last - first;
      return total / 100;
    },
  };
}

function childCpu(child: Child): number {
  const line = child.lines.find((l) => l.startsWith("cpu "));
  return line ? Number(line.slice(4)) / 1e6 : NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Throughput: the queue is filled first, then `workers` processes drain it. */
async function throughput(workers: number, deliveries: number) {
  const schema = await fresh(`t${workers}`);
  const events = Math.ceil(deliveries / CONNECTIONS);
  const ingest = startChild({ databaseUrl: DATABASE_URL, role: "ingest", schema, config, events, batch: 500, prefix: "t" });
  await ingest.waitFor(/^done/, 300_000);
  await stopChild(ingest);
  const load = loadavg()[0]!;
  const pgCpu = backendCpu();
  const children: Child[] = Array.from({ length: workers }, (_, i) => startChild({ databaseUrl: DATABASE_URL, role: "worker", schema, config, workerId: `bench-${i}`, max: 4 }));
  await waitUntilDone(schema, 600_000);
  // Measured on the database's own record: first attempt start to last completion.
  const { rows } = await admin.query(
    `SELECT (SELECT min(started_at) FROM ${schema}.attempts) AS first, max(completed_at) AS last, count(*) AS n FROM ${schema}.deliveries`,
  );
  await Promise.all(children.map((c) => stopChild(c)));
  const pgSeconds = await pgCpu.stop();
  const seconds = (Number(rows[0].last) - Number(rows[0].first)) / 1000;
  const n = Number(rows[0].n);
  // Worker CPU from "ready" (start-up and loading the code not counted) to the exit.
  const workerSeconds = children.reduce((sum, c) => sum + childCpu(c), 0);
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  return { workers, deliveries: n, seconds, perSecond: n / seconds, load, workerUs: (workerSeconds / n) * 1e6, pgUs: (pgSeconds / n) * 1e6 };
}

/** Latency: workers idle and waiting, events ingested at a steady rate; created_at → completed_at. */
async function latency(workers: number, rate: number, seconds: number) {
  const schema = await fresh(`l${workers}`);
  const children: Child[] = Array.from({ length: workers }, (_, i) => startChild({ databaseUrl: DATABASE_URL, role: "worker", schema, config, workerId: `lat-${i}`, max: 4 }));
  await Promise.all(children.map((c) => c.waitFor(/^ready/)));
  const events = Math.round((rate / CONNECTIONS) * seconds);
  const ingest = startChild({ databaseUrl: DATABASE_URL, role: "ingest", schema, config, events, batch: 50, rate: rate / CONNECTIONS, prefix: "l" });
  await ingest.waitFor(/^done/, 300_000);
  await waitUntilDone(schema, 120_000);
  const { rows } = await admin.query(`SELECT completed_at - created_at AS ms FROM ${schema}.deliveries ORDER BY 1`);
  await Promise.all([ingest, ...children].map((c) => stopChild(c)));
  await admin.query(`DROP SCHEMA ${schema} CASCADE`);
  const ms = rows.map((r) => Number(r.ms));
  return { workers, rate, deliveries: ms.length, p50: percentile(ms, 50), p90: percentile(ms, 90), p99: percentile(ms, 99), max: ms.at(-1)! };
}

const counts = values.workers.split(",").map(Number);
const deliveries = Number(values.deliveries);
const { rows: version } = await admin.query("SHOW server_version");
console.log(`# ${new Date().toISOString()}, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
console.log(`# @meshwork/postgres benchmark — node ${process.version}, PostgreSQL ${version[0].server_version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);
const DESTINATIONS = {
  noop: "no-op action (no request: the engine, the queue and Postgres alone)",
  http: "one HTTP request per delivery to the sandbox simulator (in-process fetch handler, no faults, no delay)",
} as const;
for (const destination of values.destination.split(",") as Array<keyof typeof DESTINATIONS>) {
config = { ...config, action: destination === "noop" ? "noop" : "deliver" };
console.log(`# destination: ${DESTINATIONS[destination]}; ${CONNECTIONS} connections, concurrency ${config.concurrency} each`);
for (const workers of counts) {
  const r = await throughput(workers, deliveries);
  const capacity = Math.round((cpus().length * 1e6) / (r.workerUs + r.pgUs));
  console.log(
    `throughput  workers=${r.workers}  deliveries=${r.deliveries}  ${r.seconds.toFixed(2)} s  ${Math.round(r.perSecond)} deliveries/s  ` +
      `cpu/delivery: workers ${r.workerUs.toFixed(0)} µs + postgres ${r.pgUs.toFixed(0)} µs (CPU-bound ceiling on ${cpus().length} idle cores ≈ ${capacity}/s)  load average at start ${r.load.toFixed(1)}`,
  );
}
for (const workers of counts.filter((w) => w <= 2)) {
  const r = await latency(workers, Number(values.rate), Number(values["latency-seconds"]));
  console.log(`latency     workers=${r.workers}  ingest ${r.rate} deliveries/s for ${values["latency-seconds"]} s  n=${r.deliveries}  p50 ${r.p50} ms  p90 ${r.p90} ms  p99 ${r.p99} ms  max ${r.max} ms`);
}
}
await admin.end();

// Profiling aid for the engine's no-op path, from the sources (not a benchmark: see engine.mjs).
// Compares, in one process, a bare `runAction` loop (RAW=1), the engine on a store that keeps
// nothing (NULL_STORE=1), on the memory store and on SQLite (ONLY_MEMORY / ONLY_SQLITE, WA=0 for
// no write-ahead). Run: npx tsx bench/rules/profile.ts 20000   (add --cpu-prof via node --import tsx)
import { noop as makeNoop } from "../../packages/rules/src/__fixtures__/destinations.ts";
import { createEngine, memoryStore, sqliteStore, type Store } from "@meshwork/rules";
import { rmSync } from "node:fs";

const noop = makeNoop({ concurrency: Number(process.env.CONC ?? 1000) });
const KEY = "mw_pub_bench_0123456789";
const connections = [0, 1, 2, 3].map((i) => ({ id: `c${i}`, workspace: "w", type: "noop", name: `c${i}`, mode: "live" as const, credentials: { token: "secret-token-x" } }));
const rules = [0, 1, 2, 3].map((i) => ({ id: `r${i}`, workspace: "w", connection: `c${i}`, event: "page.completed", metadata: { action: "ping", note: "step {{step}}" } }));
const config = { workspaces: [{ id: "w", name: "W", environment: "production" as const, publishableKeys: [KEY] }], connections, rules };

function nullStore(): Store {
  return {
    name: "null", open: async () => {}, close: async () => {},
    insertEvents: async (items) => items.map((i) => ({ inserted: true as const, event: i.event })),
    write: async () => {}, openDeliveries: async () => [], dueDeliveries: async () => [], getEvents: async () => [], listEvents: async () => [],
    eventDeliveries: async () => [], getDelivery: async () => undefined, listAttempts: async () => [], findDeliveries: async () => [],
    connectionStatuses: async () => [], setConnectionStatus: async () => {},
  };
}

async function run(kind: string, N: number) {
  const path = `/tmp/rules-bench-${process.pid}.db`;
  rmSync(path, { force: true }); rmSync(path + "-wal", { force: true }); rmSync(path + "-shm", { force: true });
  const engine = createEngine({ config, destinations: [noop], writeAhead: process.env.WA === "0" ? false : undefined, store: kind === "sqlite" ? sqliteStore({ path }) : kind === "null" ? nullStore() : memoryStore() });
  await engine.start();
  let done = 0;
  if (process.env.LISTEN) engine.on("delivery", (d) => { if (d.status === "completed") done++; });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let b = 0; b < N / 100; b++) {
    const batch = [];
    for (let i = 0; i < 100; i++) batch.push({ event: "page.completed", payload: { email: "a@b.c", step: i } });
    await engine.ingest(batch, { publishableKey: KEY });
  }
  const t1 = performance.now();
  await engine.drain();
  if (!process.env.LISTEN) done = N * 4;
  const t2 = performance.now();
  const cpu = process.cpuUsage(c0);
  console.log(`${kind}: ingest ${(t1 - t0).toFixed(0)} ms, total ${(t2 - t0).toFixed(0)} ms, ${done} deliveries, ${Math.round(done / ((t2 - t0) / 1000))}/s; cpu ${((cpu.user + cpu.system) / done).toFixed(1)} us/delivery`);
  await engine.stop();
}
const N = Number(process.argv[2] ?? 50000);
async function raw(N: number) {
  const { runAction } = await import("@meshwork/destination-kit");
  const event = { id: "e", event: "page.completed", payload: { email: "a@b.c", step: 1 }, workspace: "w", created_at: "2026-01-01T00:00:00.000Z" };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N * 4; i++) {
    await runAction({ destination: noop, action: "ping", credentials: { token: "secret-token-x" }, metadata: { note: "step {{step}}" }, event, idempotencyKey: `k${i}`, connection: { id: "c", workspace: "w", type: "noop", mode: "live" } });
  }
  const cpu = process.cpuUsage(c0);
  console.log(`raw runAction: ${Math.round((N * 4) / ((performance.now() - t0) / 1000))}/s; cpu ${((cpu.user + cpu.system) / (N * 4)).toFixed(1)} us/attempt`);
}

void (async () => {
  if (process.env.RAW) await raw(N);
  if (process.env.NULL_STORE) await run("null", N);
  if (!process.env.ONLY_SQLITE) await run("memory", N);
  if (!process.env.ONLY_MEMORY) await run("sqlite", N);
})();

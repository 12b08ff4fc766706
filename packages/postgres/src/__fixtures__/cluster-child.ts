// One process of the distributed tests and the benchmark. Run with `node --import tsx`:
//   cluster-child.ts <json options>
// role "worker": claims and delivers until SIGTERM (then stops cleanly) or SIGKILL.
// role "ingest" (or "both"): ingests `events` events in batches of `batch`, prints "ingested <n>" after each
// acknowledged batch, then "done" and waits for SIGTERM.
import { clusterEngine, clusterEvent, KEY, type ClusterEngineOptions } from "./cluster.js";

interface ChildOptions extends ClusterEngineOptions {
  events?: number;
  batch?: number;
  /** Event ids are `${prefix}-${n}`. */
  prefix?: string;
  /** Events per second to ingest at most (0: as fast as acknowledged). */
  rate?: number;
}

const options = JSON.parse(process.argv[2]!) as ChildOptions;
const engine = clusterEngine(options);
await engine.start();
const ready = process.cpuUsage();
process.stdout.write(`ready ${process.pid}\n`);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void engine.stop({ timeoutMs: 5000 }).then(
    () => {
      // CPU since start-up (loading the code is not counted), µs.
      const cpu = process.cpuUsage(ready);
      process.stdout.write(`cpu ${cpu.user + cpu.system}\n`, () => process.exit(0));
    },
    (error: unknown) => {
      process.stderr.write(`stop failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

if (options.role !== "worker" && options.events) {
  const batch = options.batch ?? 200;
  const started = Date.now();
  for (let offset = 0; offset < options.events && !stopping; offset += batch) {
    const events = Array.from({ length: Math.min(batch, options.events - offset) }, (_, i) => clusterEvent(`${options.prefix ?? "ev"}-${offset + i}`));
    await engine.ingest(events, { publishableKey: KEY });
    process.stdout.write(`ingested ${offset + events.length} ${Date.now()}\n`);
    if (options.rate) {
      const due = started + ((offset + events.length) / options.rate) * 1000;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    }
  }
  process.stdout.write("done\n");
}
// Stay alive until told to stop (the engine's timers are unref'd).
setInterval(() => {}, 1 << 30);

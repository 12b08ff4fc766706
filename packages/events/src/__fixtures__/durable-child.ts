// Run by node.test.ts in a child process: `emit` queues events durably and then waits to be
// killed; `drain` restarts on the same file and sends what the killed process left; `unref`
// emits once and returns, to show that the client's timers do not keep the process alive (the
// queued event is sent once at `beforeExit`).
import { createClient } from "../index.js";
import { sqliteQueue } from "../node.js";

const [mode, dbPath, endpoint, countText] = process.argv.slice(2) as [string, string, string, string];
const publishableKey = "mw_pub_durable";

if (mode === "emit") {
  const client = createClient({
    publishableKey,
    endpoint,
    queue: sqliteQueue({ path: dbPath }),
    flushAt: 10,
    maxInFlight: 2,
    flushIntervalMs: 60_000,
    timeoutMs: 60_000,
  });
  for (let i = 0; i < Number(countText); i++) void client.emit({ event: "durable.test", payload: { i } });
  process.stdout.write("emitted\n");
  setInterval(() => undefined, 1000);
} else if (mode === "drain") {
  const client = createClient({ publishableKey, endpoint, queue: sqliteQueue({ path: dbPath }), flushIntervalMs: 10 });
  await client.flush();
  const report = await client.close({ timeoutMs: 5000 });
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else if (mode === "unref") {
  const client = createClient({ publishableKey, endpoint, flushIntervalMs: 60_000, retry: { baseDelayMs: 60_000 } });
  void client.emit({ event: "left.behind", payload: {} });
  process.stdout.write("returned\n");
}

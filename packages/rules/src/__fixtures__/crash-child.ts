// Run by crash.test.ts: ingests events into a SQLite-backed engine and keeps delivering until
// it is killed. Prints "accepted <ids>" after each acknowledged batch.
import { crashEngine } from "./crash-setup.js";
import { KEY_A, pageCompleted } from "./config.js";

const [db, log, total] = process.argv.slice(2) as [string, string, string];
const engine = crashEngine(db, log);
await engine.start();
const count = Number(total);
for (let offset = 0; offset < count; offset += 50) {
  const batch = Array.from({ length: Math.min(50, count - offset) }, (_, i) => pageCompleted(`crash-${String(offset + i).padStart(5, "0")}`));
  await engine.ingest(batch, { publishableKey: KEY_A });
  process.stdout.write(`accepted ${batch.map((e) => e.id).join(",")}\n`);
}
process.stdout.write("ingested\n");
await engine.drain();
process.stdout.write("drained\n");

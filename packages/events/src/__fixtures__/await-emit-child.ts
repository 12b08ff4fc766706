// A script that awaits emit at top level and then has nothing else to do: the client must send
// before Node exits (its own timers never keep the process alive).
import { createClient } from "../index.js";

const mode = process.argv[2];
const engine = {
  async ingest(events: Array<{ id?: string; event: string }>) {
    if (mode === "down") return { count: 0, error_count: events.length, records: events.map(() => ({ message: "down", error: "unavailable", retryable: true })) };
    return { count: events.length, records: events.map((e) => ({ id: e.id!, type: "event" as const, event: e.event, workspace: "w", created_by: "k", created_at: "", resource: null, resource_id: null })) };
  },
};
const client = createClient({ publishableKey: "mw_pub_test", engine, retry: { maxAttempts: 3, baseDelayMs: 60_000 } });
try {
  const receipt = await client.emit({ event: "user.signup", payload: { email: "a@b.co" } });
  console.log(`accepted ${receipt.event}`);
} catch (error) {
  console.log(`rejected: ${(error as Error).message}`);
}

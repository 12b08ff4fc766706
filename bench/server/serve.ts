// The server side of the @meshwork/server benchmark: one `createServer` on SQLite, listening on
// 127.0.0.1, in its own process. Prints one JSON line `{ "url": … }` once it listens.
//   node --import tsx bench/server/serve.ts --scenario=noop|norule|sandbox|receiver --db=/tmp/x.db [--receiver=http://…] [--max-open=N|0]
import { createSimulator, defineAction, defineDestination, type Destination } from "@meshwork/destination-kit";
import type { MeshworkConfigInput } from "@meshwork/rules";
import { createServer } from "@meshwork/server";

const arg = (name: string, fallback?: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const scenario = arg("scenario", "noop")!;
const db = arg("db", "/tmp/meshwork-bench.db")!;

export const BENCH_KEY = "mw_pub_bench_0123456789abcdef";

/** Accepts anything: the bench's no-op destination needs no credentials or metadata. */
const anything = { safeParse: (data: unknown) => ({ success: true as const, data }) } as unknown as Parameters<typeof defineAction>[0]["metadata"];

/** A destination whose delivery does nothing, so the benchmark measures the server and the engine. */
const noop = defineDestination({
  type: "noop",
  name: "No-op",
  credentials: anything,
  baseUrl: "http://noop.invalid",
  concurrency: 100,
  actions: {
    deliver: defineAction({ description: "Does nothing", metadata: anything, perform: async () => ({ summary: "ok" }) }),
  },
  sandbox: () => createSimulator({ type: "noop", app: { fetch: () => new Response("{}") } as never, snapshot: () => ({}) }),
}) as unknown as Destination;

const workspaces = [{ id: "bench", name: "Bench", environment: "production" as const, publishableKeys: [BENCH_KEY] }];
const fast = { rateLimit: { requests: 1_000_000, perMs: 1000 }, concurrency: 50 };

function config(): MeshworkConfigInput {
  switch (scenario) {
    case "norule":
      return { workspaces, connections: [], rules: [] };
    case "noop":
      return {
        workspaces,
        connections: [{ id: "noop-1", workspace: "bench", type: "noop", name: "No-op", mode: "live", credentials: {}, ...fast }],
        rules: [{ id: "noop-rule", workspace: "bench", connection: "noop-1", event: "bench.event", metadata: { action: "deliver" } }],
      };
    case "sandbox":
    case "receiver": {
      const url = scenario === "sandbox" ? "https://hooks.bench.test/in" : arg("receiver")!;
      const mode = scenario === "sandbox" ? ("sandbox" as const) : ("live" as const);
      const connections = ["a", "b"].map((x) => ({
        id: `hook-${x}`,
        workspace: "bench",
        type: "webhook",
        name: `Webhook ${x}`,
        mode,
        credentials: { url: `${url}?to=${x}`, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] },
        ...fast,
      }));
      const rules = connections.map((c) => ({ id: `rule-${c.id}`, workspace: "bench", connection: c.id, event: "bench.event", metadata: { action: "send_webhook" } }));
      return { workspaces, connections, rules };
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

const maxOpen = arg("max-open");
const server = createServer({
  config: config(),
  ...(maxOpen !== undefined && { maxOpenDeliveries: Number(maxOpen) > 0 ? Number(maxOpen) : false }),
  destinations: [noop],
  destinationOptions: { webhook: { allowPrivateNetworks: true } },
  db,
  rateLimit: false,
  logger: { level: "warn" },
});
const { url } = await server.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`${JSON.stringify({ url, pid: process.pid })}\n`);
const stop = () => void server.close().then(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

// `npm run demo` from the repository root, or `npx tsx examples/demo/src/main.ts`.
// Nothing to configure and no network: every destination is an in-memory simulator.
// `--serve` then keeps the demo's engine up behind `@meshwork/server` on 127.0.0.1:8787
// (PORT to change it): emit more events to it and browse the history with the `meshwork` CLI.
import { rmSync } from "node:fs";
import { createServer, type MeshworkServer } from "@meshwork/server";
import { DEMO_ACCESS_KEY } from "./config.js";
import { runDemo } from "./demo.js";

const serve = process.argv.includes("--serve");
// `npm run demo | head`: stop quietly when the reader closes the pipe.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});
const tty = process.stdout.isTTY === true;
let statusShown = false;
const clearStatus = () => {
  if (statusShown) process.stdout.write("\r\x1b[2K");
  statusShown = false;
};

let server: MeshworkServer | undefined;
const result = await runDemo({
  print: (line) => {
    clearStatus();
    process.stdout.write(`${line}\n`);
  },
  ...(tty && {
    status: (line: string) => {
      clearStatus();
      if (line) process.stdout.write(line);
      statusShown = line.length > 0;
    },
  }),
  ...(serve && {
    keepRunning: true,
    // The same engine, inside the hosted endpoint: ingestion, management API, /metrics.
    createEngine: ({ config, destinations, store, retry }) => {
      server = createServer({ config, destinations, builtInDestinations: false, ...(store && { store }), engine: { ...(retry && { retry }) }, logger: false });
      return server.engine;
    },
  }),
});

const incomplete = result.reports.flatMap((r) => r.deliveries).filter((d) => d.status !== "completed");
if (incomplete.length > 0) {
  console.error(`${incomplete.length} deliveries did not complete: ${incomplete.map((d) => d.rule_id).join(", ")}`);
  process.exitCode = 1;
}

if (server) {
  const running = server;
  const { url } = await running.listen({ port: Number(process.env.PORT ?? 8787), host: "127.0.0.1" });
  const key = result.workspaces[0]!.publishableKey;
  const auth = `--url ${url} --access-key ${DEMO_ACCESS_KEY.accessKey} --secret-key ${DEMO_ACCESS_KEY.secretKey}`;
  console.log(`
Serving the demo's engine on ${url} (the simulators keep their state). Try:

  curl -s ${url}/api/v1/events -H 'x-meshes-publishable-key: ${key}' -H 'content-type: application/json' \\
    -d '{"event":"user.signup","payload":{"email":"new@northstar.io","first_name":"New","plan":"pro"}}'
  npx tsx packages/server/src/cli.ts events list --workspace ${result.workspaces[0]!.id} \\
    ${auth}
  curl -s ${url}/metrics | grep meshwork_deliveries_total

Publishable keys:
${result.workspaces.map((w) => `  ${w.id.padEnd(15)} ${w.publishableKey}`).join("\n")}
Ctrl-C to stop.`);
  const stop = async () => {
    await running.close();
    rmSync(result.dataDir, { recursive: true, force: true });
    process.exit(process.exitCode ?? 0);
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
}

// Helpers for tests that run the real `meshwork` binary as a child process, with a local
// webhook receiver that counts what it was sent.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { build, type Plugin } from "esbuild";

export const REPO = resolve(import.meta.dirname, "../../../..");
export const CLI = resolve(import.meta.dirname, "../cli.ts");

/**
 * The CLI from the sources, bundled once per test file: the workspace packages come from their
 * sources (tsconfig paths), every other dependency stays an import of its installed file. Starts
 * in well under a second, where `node --import tsx` compiles everything on each start.
 */
let bundled: Promise<string> | undefined;
export function bundleCli(): Promise<string> {
  const external: Plugin = {
    name: "installed-dependencies",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path.startsWith("@meshwork/") || args.pluginData === "inner") return undefined;
        if (args.path.startsWith("node:")) return { path: args.path, external: true };
        const found = await b.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: "inner" });
        return found.errors.length ? { errors: found.errors } : { path: found.path, external: true };
      });
    },
  };
  bundled ??= (async () => {
    const outfile = join(mkdtempSync(join(tmpdir(), "meshwork-cli-")), "cli.mjs");
    await build({ entryPoints: [CLI], bundle: true, platform: "node", format: "esm", target: "node20", outfile, plugins: [external], logLevel: "error", tsconfig: join(REPO, "tsconfig.json") });
    return outfile;
  })();
  return bundled;
}

export interface RunningCli {
  child: ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `meshwork <args>` (the bundle from `bundleCli`). */
export function spawnCli(cli: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on("line", (line) => lines.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once("exit", (code, signal) => done({ code, signal })));
  return { child, lines, exited };
}

/** Starts `meshwork serve` and resolves once it logged where it listens. */
export async function spawnServe(args: string[], timeoutMs = 30_000): Promise<RunningCli> {
  const { child, lines, exited } = spawnCli(await bundleCli(), ["serve", "--port", "0", ...args]);
  const started = Date.now();
  for (;;) {
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      const parsed = JSON.parse(line) as { msg?: string; url?: string };
      if (parsed.msg === "listening" && parsed.url) return { child, url: parsed.url, lines, exited };
    }
    if (child.exitCode !== null) throw new Error(`meshwork serve exited with ${child.exitCode}:\n${lines.join("\n")}`);
    if (Date.now() - started > timeoutMs) {
      child.kill("SIGKILL");
      throw new Error(`meshwork serve did not start within ${timeoutMs} ms:\n${lines.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A webhook receiver on 127.0.0.1: counts each delivery (`webhook-id`) and event id it is sent. */
export async function startReceiver(options: { delayMs?: number } = {}) {
  const deliveries = new Map<string, number>();
  const events = new Map<string, number>();
  const eventOf = new Map<string, string>();
  let total = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const id = String(req.headers["webhook-id"] ?? "");
      let eventId = "";
      try {
        eventId = String((JSON.parse(Buffer.concat(chunks).toString()) as { id?: unknown }).id ?? "");
      } catch {
        // Not an event body: counted by delivery id only.
      }
      total++;
      deliveries.set(id, (deliveries.get(id) ?? 0) + 1);
      if (eventId) {
        events.set(eventId, (events.get(eventId) ?? 0) + 1);
        eventOf.set(id, eventId);
      }
      const answer = () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"ok":true}');
      };
      if (options.delayMs) setTimeout(answer, options.delayMs);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    deliveries,
    events,
    eventOf,
    get total() {
      return total;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** Deliveries in flight at once on the receiver connection: the most a crash can interrupt. */
export const RECEIVER_CONCURRENCY = 50;

export const PROCESS_KEYS = { publishable: "mw_pub_load_0123456789abcdef", accessKey: "mk_load_1", secretKey: "sk_load_SECRET_55aa33cc" };

/** A JSON config: one workspace whose rule sends every `load.test` event to the receiver. */
export function receiverConfig(receiverUrl: string) {
  return {
    config: {
      workspaces: [{ id: "load-prod", name: "Load", environment: "production", publishableKeys: [PROCESS_KEYS.publishable] }],
      connections: [
        {
          id: "load-hook",
          workspace: "load-prod",
          type: "webhook",
          name: "Receiver",
          mode: "live",
          concurrency: RECEIVER_CONCURRENCY,
          rateLimit: { requests: 100_000, perMs: 1000 },
          credentials: { url: receiverUrl, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] },
        },
      ],
      rules: [{ id: "load-rule", workspace: "load-prod", connection: "load-hook", event: "load.test", metadata: { action: "send_webhook" } }],
      accessKeys: [{ accessKey: PROCESS_KEYS.accessKey, secretKey: PROCESS_KEYS.secretKey, workspaces: ["load-prod"] }],
    },
    destinationOptions: { webhook: { allowPrivateNetworks: true } },
    server: { rateLimit: false, shutdownTimeoutMs: 10_000 },
  };
}

/** Sends bulk requests of `size` events from `senders` concurrent loops until `stop()`; records what was acknowledged. */
export function loadGenerator(url: string, options: { size: number; senders: number; maxRequests: number }) {
  const acked = new Set<string>();
  const statuses = new Map<number | string, number>();
  let sent = 0;
  let stopped = false;
  let n = 0;
  const loop = async () => {
    while (!stopped && sent < options.maxRequests) {
      sent++;
      const body = JSON.stringify(Array.from({ length: options.size }, () => ({ event: "load.test", payload: { n: n++ } })));
      try {
        const res = await fetch(`${url}/api/v1/events/bulk`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-meshes-publishable-key": PROCESS_KEYS.publishable },
          body,
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201 || res.status === 207) {
          for (const r of ((await res.json()) as { records: Array<{ id?: string; type?: string }> }).records) if (r.type === "event" && r.id) acked.add(r.id);
        } else {
          await res.text();
          if (res.status === 503) return;
        }
      } catch {
        statuses.set("network_error", (statuses.get("network_error") ?? 0) + 1);
        return;
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.senders }, loop));
  return {
    acked,
    statuses,
    get sent() {
      return sent;
    },
    stop: () => {
      stopped = true;
    },
    done,
  };
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

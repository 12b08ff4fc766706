import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient, MeshworkValidationError, type WireEvent } from "./index.js";
import { sqliteQueue } from "./node.js";

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const child = fileURLToPath(new URL("./__fixtures__/durable-child.ts", import.meta.url));

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "meshwork-events-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real bulk endpoint on 127.0.0.1: records every event and either answers 201 or holds the request open. */
async function startSink() {
  const received: Array<{ key: string | undefined; events: WireEvent[] }> = [];
  let hang = false;
  const server: Server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      const events = JSON.parse(body) as WireEvent[];
      received.push({ key: request.headers["idempotency-key"] as string | undefined, events });
      if (hang) return;
      response.writeHead(201, { "content-type": "application/json" });
      response.end(JSON.stringify({ count: events.length, records: events.map((e) => ({ id: e.id, type: "event", event: e.event })) }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    received,
    setHang(value: boolean) {
      hang = value;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function run(args: string[]): { process: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ["--import", tsx, child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => lines.push(...chunk.split("\n").filter(Boolean)));
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    proc.on("exit", (code) => {
      if (code) console.error(stderr);
      resolve(code);
    }),
  );
  return { process: proc, lines, exited };
}

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const rows = (path: string) => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare("SELECT id, body FROM meshwork_events ORDER BY seq").all() as Array<{ id: string; body: string }>;
  } finally {
    db.close();
  }
};

describe("sqliteQueue", () => {
  it("writes each event before emit returns and deletes it once acknowledged", async () => {
    const sink = await startSink();
    const path = join(dir, "ack.db");
    const client = createClient({ publishableKey: "mw_pub_x", endpoint: sink.endpoint, queue: sqliteQueue({ path }), flushIntervalMs: 10 });
    const receipt = client.emit({ event: "stored.first", payload: { n: 1 } });
    const [row] = rows(path);
    expect(JSON.parse(row!.body)).toEqual({ id: row!.id, event: "stored.first", payload: { n: 1 } });
    expect((await receipt).id).toBe(row!.id);
    expect(rows(path)).toEqual([]);
    await client.close();
    await sink.stop();
  });

  it("keeps order and content across reopen, and checks its table name", () => {
    const path = join(dir, "reopen.db");
    const first = sqliteQueue({ path });
    first.add({ id: "b", body: '{"id":"b"}' });
    first.add({ id: "a", body: '{"id":"a"}' });
    first.add({ id: "c", body: '{"id":"c"}' });
    first.remove(["c"]);
    first.close();
    const second = sqliteQueue({ path, synchronous: "full" });
    expect(second.load()).toEqual([
      { id: "b", body: '{"id":"b"}' },
      { id: "a", body: '{"id":"a"}' },
    ]);
    second.close();
    expect(() => sqliteQueue({ path, table: "x; DROP TABLE y" })).toThrow(MeshworkValidationError);
  });

  it("survives the emitting process being killed: everything is sent after restart, ids unchanged", async () => {
    const sink = await startSink();
    const path = join(dir, "crash.db");
    try {
      sink.setHang(true);
      const first = run(["emit", path, sink.endpoint, "35"]);
      // Two batches of 10 are in flight (held open by the sink), 15 events wait for the interval.
      await until(() => first.lines.includes("emitted") && sink.received.length === 2);
      first.process.kill("SIGKILL");
      expect(await first.exited).toBe(null);
      const inFlightBeforeCrash = sink.received.flatMap((r) => r.events);
      expect(inFlightBeforeCrash).toHaveLength(20);

      const left = rows(path);
      expect(left).toHaveLength(35);
      const payloads = left.map((row) => (JSON.parse(row.body) as WireEvent).payload.i);
      expect(payloads).toEqual(Array.from({ length: 35 }, (_, i) => i));

      sink.setHang(false);
      sink.received.length = 0;
      const second = run(["drain", path, sink.endpoint]);
      expect(await second.exited).toBe(0);
      expect(JSON.parse(second.lines.at(-1)!)).toEqual({ sent: 35, failed: 0, dropped: 0, pending: 0 });
      const after = sink.received.flatMap((r) => r.events);
      expect(after.map((e) => e.id).sort()).toEqual(left.map((row) => row.id).sort());
      expect(new Set(after.map((e) => e.id)).size).toBe(35);
      // The events that were on the wire when the process died come back with the same ids and bodies.
      for (const event of inFlightBeforeCrash) expect(after).toContainEqual(event);
      expect(rows(path)).toEqual([]);
    } finally {
      await sink.stop();
    }
  }, 60_000);
});

describe("timers", () => {
  let sink: Awaited<ReturnType<typeof startSink>>;
  beforeAll(async () => {
    sink = await startSink();
  });
  afterEach(() => sink.setHang(false));
  afterAll(() => sink.stop());

  it("never keep the process alive; what is queued is sent on the way out", async () => {
    const started = Date.now();
    const proc = run(["unref", "-", sink.endpoint]);
    expect(await proc.exited).toBe(0);
    expect(proc.lines).toEqual(["returned"]);
    // The flush interval and retry delay are 60 s: exiting well before that shows no timer held it.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(sink.received).toHaveLength(1);
  }, 60_000);
});

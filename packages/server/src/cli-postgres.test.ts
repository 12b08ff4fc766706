// `meshwork migrate`, `meshwork serve --database-url` and `meshwork worker`, in-process: the
// server only takes events (--role ingest), the worker delivers them from the shared queue.
// Needs PostgreSQL (MESHWORK_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "./cli/program.js";

const DATABASE_URL = process.env.MESHWORK_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const KEY = "mw_pub_pg_0123456789abcdef";

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const ok = await reachable();
if (!ok) console.warn(`PostgreSQL not reachable at ${DATABASE_URL.replace(/:[^:@/]*@/, ":***@")}; skipping cli-postgres.test.ts`);
const schema = `mw_cli_${randomBytes(4).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "meshwork-cli-pg-"));

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (!ok) return;
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await client.end();
});

function io(env: Record<string, string | undefined> = {}) {
  const out = { stdout: "", stderr: "", signals: [] as Array<() => void> };
  return {
    out,
    io: {
      stdout: (t: string) => void (out.stdout += t),
      stderr: (t: string) => void (out.stderr += t),
      env,
      onSignal: (_signal: "SIGTERM" | "SIGINT", handler: () => void) => void out.signals.push(handler),
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createNetServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!ok)("meshwork serve, worker and migrate on Postgres", { timeout: 60_000 }, () => {
  it("migrates once, then says the schema is up to date", async () => {
    const first = io();
    expect(await runCli(["migrate", "--database-url", DATABASE_URL, "--schema", schema], first.io)).toBe(0);
    expect(first.out.stdout).toMatch(new RegExp(`schema "${schema}" migrated from version 0 to \\d+`));
    const again = io({ MESHWORK_DATABASE_URL: DATABASE_URL });
    expect(await runCli(["migrate", "--schema", schema], again.io)).toBe(0);
    expect(again.out.stdout).toMatch(/is up to date/);
  });

  it("answers usage errors: no database URL, or --database-url with --db", async () => {
    const none = io();
    expect(await runCli(["worker", "--config", join(dir, "x.json")], none.io)).toBe(2);
    expect(none.out.stderr).toMatch(/needs --database-url/);
    const both = io();
    expect(await runCli(["serve", "--config", join(dir, "x.json"), "--database-url", DATABASE_URL, "--db", "x.db"], both.io)).toBe(2);
    expect(both.out.stderr).toMatch(/cannot be combined/);
  });

  it("serve --role ingest takes events, a worker delivers them, both stop on SIGTERM", async () => {
    const config = join(dir, "meshwork.config.json");
    writeFileSync(
      config,
      JSON.stringify({
        workspaces: [{ id: "pg", name: "PG", environment: "staging", publishableKeys: [KEY] }],
        connections: [
          {
            id: "pg-hook",
            workspace: "pg",
            type: "webhook",
            name: "Hook",
            mode: "sandbox",
            credentials: { url: "https://receiver.example.com/hooks", secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] },
          },
        ],
        rules: [{ id: "signup-hook", workspace: "pg", connection: "pg-hook", event: "user.signup", metadata: { action: "send_webhook" } }],
      }),
    );
    const port = await freePort();
    const server = io();
    const serving = runCli(["serve", "--config", config, "--database-url", DATABASE_URL, "--schema", schema, "--role", "ingest", "--port", String(port), "--log-level", "silent", "--no-dashboard"], server.io);
    const worker = io();
    const working = runCli(["worker", "--config", config, "--database-url", DATABASE_URL, "--schema", schema, "--log-level", "silent"], worker.io);
    await until("the server", async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true);

    const res = await fetch(`http://127.0.0.1:${port}/api/v1/events`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-meshes-publishable-key": KEY },
      body: JSON.stringify({ event: "user.signup", payload: { email: "alex@northstar.io" } }),
    });
    expect(res.status).toBe(201);
    const { event } = (await res.json()) as { event: { id: string } };

    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    try {
      await until("the worker to deliver", async () => (await db.query(`SELECT status FROM ${schema}.deliveries WHERE event_id = $1`, [event.id])).rows[0]?.status === "completed");
      const { rows } = await db.query(`SELECT a.outcome, d.locked_by FROM ${schema}.attempts a JOIN ${schema}.deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`, [event.id]);
      expect(rows).toEqual([{ outcome: "delivered", locked_by: null }]);
    } finally {
      await db.end();
    }
    for (const stop of [...server.out.signals, ...worker.out.signals]) stop();
    expect(await serving).toBe(0);
    expect(await working).toBe(0);
    expect(worker.out.stderr).toBe("");
  });
});

// The CLI commands run in-process (runCli with captured output) against a server the test
// started on a real socket; process.test.ts runs the real binary.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS, KEYS, post, startServer, testConfig } from "./__fixtures__/setup.js";
import { runCli } from "./cli/program.js";
import type { MeshworkServer } from "./index.js";

let server: MeshworkServer;
let url: string;
let dir: string;
let ids: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "meshwork-cli-"));
  server = await startServer();
  ({ url } = await server.listen({ port: 0 }));
  server.engine.sandbox("acme-hook").inject({ status: 400, times: 2 });
  const res = await post(server, "/api/v1/events/bulk", [
    { event: "user.signup", payload: { email: "a@northstar.io" } },
    { event: "user.signup", payload: { email: "b@northstar.io" } },
    { event: "deal.won", payload: { amount: 1200 } },
  ]);
  ids = ((await res.json()) as { records: Array<{ id: string }> }).records.map((r) => r.id);
  await server.engine.drain({ timeoutMs: 10_000 });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { MESHWORK_URL: url, MESHWORK_ACCESS_KEY: ACCESS.acme.accessKey, MESHWORK_SECRET_KEY: ACCESS.acme.secretKey, ...env },
  });
  return { code, stdout, stderr };
}

describe("meshwork validate", () => {
  it("accepts a valid config", async () => {
    const file = join(dir, "ok.json");
    writeFileSync(file, JSON.stringify(testConfig()));
    const { code, stdout } = await run(["validate", "--config", file]);
    expect(code).toBe(0);
    expect(stdout).toContain("is valid: 2 workspaces, 4 connections, 4 rules, 3 access keys");
  });

  it("prints every problem with its path and exits 1", async () => {
    const config = testConfig();
    config.rules[1]!.metadata = { action: "add_tags" };
    config.rules[2]!.connection = "globex-hook";
    config.connections[1]!.credentials = {};
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ config }));
    const { code, stderr } = await run(["validate", "--config", file]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/problems?/);
    expect(stderr).toMatch(/rules\[1\]\.metadata\.action: "add_tags" is not an action of hubspot/);
    expect(stderr).toMatch(/rules\[2\]\.connection/);
    expect(stderr).toMatch(/connections\[1\]\.credentials/);
  });

  it("says when the file cannot be read", async () => {
    const { code, stderr } = await run(["validate", "--config", join(dir, "nope.ts")]);
    expect(code).toBe(1);
    expect(stderr).toContain("does not exist");
  });
});

describe("meshwork events", () => {
  it("lists events as a table, filtered, and as JSON across every page", async () => {
    const table = await run(["events", "list"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+EVENT\s+WORKSPACE\s+STATUS\s+RULES\s+CREATED$/);
    for (const id of ids) expect(table.stdout).toContain(id);

    const failed = await run(["events", "list", "--status", "failed", "--json"]);
    const failedBody = JSON.parse(failed.stdout) as { records: Array<{ id: string; status: string }> };
    expect(failedBody.records.map((r) => r.id).sort()).toEqual(ids.slice(0, 2).sort());

    const paged = await run(["events", "list", "--limit", "1", "--all", "--json"]);
    expect((JSON.parse(paged.stdout) as { count: number }).count).toBe(3);
    const first = await run(["events", "list", "--limit", "1"]);
    expect(first.stdout).toMatch(/more: --cursor \S+/);
  });

  it("shows an event with its deliveries, payload and attempts", async () => {
    const { code, stdout } = await run(["events", "show", ids[0]!, "--payload", "--attempts"]);
    expect(code).toBe(0);
    expect(stdout).toContain(`${ids[0]}  user.signup  failed`);
    expect(stdout).toContain('payload {"email":"a@northstar.io"}');
    expect(stdout).toMatch(/acme-signup-hook\s+acme-hook\s+webhook\s+send_webhook\s+failed\s+1/);
    expect(stdout).toMatch(/attempts of acme-signup-hook:\n#\s+STARTED/);
    expect(stdout).toContain("rejected_client_error");
    const json = await run(["events", "show", ids[2]!, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: ids[2], event: "deal.won", rule_events: [{ rule: "acme-deal-slack" }] });
  });

  it("answers 404 for another workspace's event, and needs keys", async () => {
    const other = await run(["events", "show", ids[0]!], { MESHWORK_ACCESS_KEY: ACCESS.globex.accessKey, MESHWORK_SECRET_KEY: ACCESS.globex.secretKey });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("answered 404");
    const noKey = await run(["events", "list"], { MESHWORK_ACCESS_KEY: undefined });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("--access-key");
    const flags = await run(["events", "list", "--json", "--url", url, "--access-key", ACCESS.both.accessKey, "--secret-key", ACCESS.both.secretKey], {
      MESHWORK_URL: undefined,
      MESHWORK_ACCESS_KEY: undefined,
      MESHWORK_SECRET_KEY: undefined,
    });
    expect(flags.code, flags.stderr).toBe(0);
  });
});

describe("meshwork retry and replay", () => {
  it("retries one delivery to completion", async () => {
    const { code, stdout } = await run(["retry", ids[0]!, "acme-signup-hook"]);
    expect(code).toBe(0);
    expect(stdout).toContain(`retrying ${ids[0]} → acme-signup-hook`);
    await server.engine.drain({ timeoutMs: 5000 });
    const event = await server.engine.events.get(ids[0]!, { workspace: "acme-prod" });
    expect(event?.deliveries.find((d) => d.rule_id === "acme-signup-hook")?.status).toBe("completed");
  });

  it("replay --dry-run counts without sending; replay sends", async () => {
    const requestsBefore = server.engine.sandbox("acme-hook").requests.length;
    const dry = await run(["replay", "--workspace", "acme-prod", "--status", "failed", "--since", "1h", "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe("dry run: 1 delivery would be replayed\n");
    await server.engine.drain({ timeoutMs: 5000 });
    expect(server.engine.sandbox("acme-hook").requests.length).toBe(requestsBefore);
    const real = await run(["replay", "--workspace", "acme-prod", "--status", "failed", "--since", "1h", "--json"]);
    expect(JSON.parse(real.stdout)).toEqual({ count: 1, dry_run: false });
    await server.engine.drain({ timeoutMs: 5000 });
    expect(server.engine.sandbox("acme-hook").requests.length).toBe(requestsBefore + 1);
  });

  it("cancel is there too, and usage errors exit 2", async () => {
    const res = await post(server, "/api/v1/events", { event: "deal.won", payload: { amount: 1 } }, { "content-type": "application/json", "x-meshes-publishable-key": KEYS.acme });
    const id = ((await res.json()) as { event: { id: string } }).event.id;
    await server.engine.drain({ timeoutMs: 5000 });
    const done = await run(["cancel", id, "acme-deal-slack"]);
    expect(done.code).toBe(1);
    expect(done.stderr).toContain("409");
    expect((await run(["retry", id])).code).toBe(2);
    expect((await run(["nonsense"])).code).toBe(2);
    expect((await run(["events", "list", "--bogus"])).code).toBe(2);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["serve", "validate", "events", "retry", "cancel", "replay"]) expect(help.stdout).toContain(command);
  });
});

// The dashboard's server side, in-process: static serving and its headers, the /api/v1/dashboard
// endpoints (scoping, the destination filter, health, series), the delivery stats, and tokens
// minted by the dashboard's own WebCrypto code.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Delivery } from "@meshwork/rules";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { importSecret, mintToken } from "../dashboard/src/token.js";
import { ACCESS, bearer, CREDENTIAL_STRINGS, get, KEYS, post, startServer, testConfig, type Who } from "./__fixtures__/setup.js";
import { runCli } from "./cli/program.js";
import { createDeliveryStats, HEALTH_WINDOW } from "./dashboard-stats.js";
import type { MeshworkServer } from "./index.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "meshwork-dashboard-static-"));
  mkdirSync(join(dir, "_dashboard"));
  writeFileSync(join(dir, "index.html"), '<!doctype html><title>Meshwork</title><script type="module" src="/_dashboard/index-abc123.js"></script>');
  writeFileSync(join(dir, "_dashboard", "index-abc123.js"), "console.log('dashboard')");
  writeFileSync(join(dir, "_dashboard", "index-abc123.css"), "body{}");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: MeshworkServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const start = async (overrides: Parameters<typeof startServer>[0] = {}) => {
  const server = await startServer({ dashboard: { dir }, ...overrides });
  servers.push(server);
  return server;
};

describe("serving the dashboard", () => {
  it("answers / with the page and strict security headers, and hashed assets as immutable", async () => {
    const server = await start();
    const page = await server.app.request("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toContain("/_dashboard/index-abc123.js");
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("cache-control")).toBe("no-store");

    const js = await server.app.request("/_dashboard/index-abc123.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect(await js.text()).toBe("console.log('dashboard')");
    expect((await server.app.request("/_dashboard/index-abc123.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("serves nothing else from the disk", async () => {
    const server = await start();
    for (const path of ["/_dashboard/missing.js", "/_dashboard/..%2Findex.html", "/_dashboard/../index.html", "/index.html", "/_dashboard/"]) {
      expect((await server.app.request(path)).status, path).toBe(404);
    }
  });

  it("is off with dashboard: false, and says how to build it when the build is missing", async () => {
    const off = await start({ dashboard: false });
    const res = await off.app.request("/");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
    expect((await off.app.request("/api/v1/dashboard/series", { headers: await bearer("acme") })).status).toBe(404);

    const missing = await start({ dashboard: { dir: join(dir, "nowhere") } });
    const answer = await missing.app.request("/");
    expect(answer.status).toBe(503);
    expect(await answer.text()).toContain("pnpm --filter @meshwork/server build");
  });
});

describe("meshwork serve --no-dashboard", () => {
  const freePort = () =>
    new Promise<number>((resolve) => {
      const probe = createNetServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });

  /** Runs `meshwork serve` in-process with `args`, answers the status of GET / and stops it. */
  async function statusOfRoot(args: string[], server: Record<string, unknown> = {}): Promise<number> {
    const file = join(dir, `config-${args.length}-${Object.keys(server).length}.json`);
    writeFileSync(file, JSON.stringify({ config: testConfig(), server: { logLevel: "silent", ...server } }));
    const port = await freePort();
    let stop: (() => void) | undefined;
    const running = runCli(["serve", "--config", file, "--memory", "--port", String(port), ...args], {
      stdout: () => {},
      stderr: () => {},
      env: {},
      onSignal: (signal, handler) => {
        if (signal === "SIGTERM") stop = handler;
      },
    });
    let status = 0;
    for (let i = 0; i < 100 && status === 0; i++) {
      status = await fetch(`http://127.0.0.1:${port}/`).then(
        (res) => res.status,
        () => new Promise<number>((resolve) => setTimeout(() => resolve(0), 50)),
      );
    }
    stop!();
    expect(await running).toBe(0);
    return status;
  }

  it("serves the API without the dashboard; a config file can turn it off too", async () => {
    expect(await statusOfRoot(["--no-dashboard"])).toBe(404);
    expect(await statusOfRoot([], { dashboard: false })).toBe(404);
    expect(await statusOfRoot([])).not.toBe(404); // 200 when built, 503 from the sources without a build
  });
});

describe("tokens minted by the dashboard (WebCrypto)", () => {
  it("are accepted by the server; a wrong secret is refused", async () => {
    const server = await start();
    const token = await mintToken(ACCESS.acme.accessKey, await importSecret(ACCESS.acme.secretKey), Date.now());
    const ok = await server.app.request("/api/v1/workspaces", { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { records: Array<{ id: string }> }).records.map((w) => w.id)).toEqual(["acme-prod"]);

    const forged = await mintToken(ACCESS.acme.accessKey, await importSecret("sk_not_the_secret"), Date.now());
    const refused = await server.app.request("/api/v1/workspaces", { headers: { authorization: `Bearer ${forged}` } });
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { message: string }).message).toContain("signature");
  });

  it("carry the Meshes claims and live 30 s", async () => {
    const token = await mintToken("mk_acme_1", await importSecret("s"), Date.UTC(2026, 0, 1));
    const [header, payload] = token.split(".").slice(0, 2).map((part) => JSON.parse(Buffer.from(part!, "base64url").toString()) as Record<string, unknown>);
    expect(header).toEqual({ alg: "HS256", typ: "JWT", kid: "mk_acme_1" });
    expect(payload).toEqual({ iss: "urn:meshes:m2m:mk_acme_1", aud: "meshes-api", iat: Date.UTC(2026, 0, 1) / 1000, exp: Date.UTC(2026, 0, 1) / 1000 + 30 });
  });
});

describe("/api/v1/dashboard", () => {
  async function seeded() {
    const server = await start();
    server.engine.sandbox("acme-hook").inject({ status: 400, body: { error: "missing field" }, times: 1 });
    await post(server, "/api/v1/events/bulk", [
      { event: "user.signup", payload: { email: "alex@northstar.io" } },
      { event: "deal.won", payload: { amount: 12 } },
      { event: "user.signup", payload: { email: "sam@northstar.io" } },
    ]);
    await post(server, "/api/v1/events/bulk", [{ event: "user.signup", payload: { email: "ops@globex.test" } }], {
      "content-type": "application/json",
      "x-meshes-publishable-key": KEYS.globex,
    });
    await server.engine.drain();
    return server;
  }
  const json = async (server: MeshworkServer, path: string, who: Who = "acme") => {
    const res = await get(server, path, who);
    const text = await res.text();
    for (const secret of CREDENTIAL_STRINGS) expect(text).not.toContain(secret);
    return { status: res.status, body: JSON.parse(text) as Record<string, any> };
  };

  it("lists events with their deliveries, filtered by destination, status and name", async () => {
    const server = await seeded();
    const all = await json(server, "/api/v1/dashboard/events");
    expect(all.status).toBe(200);
    expect(all.body.records).toHaveLength(3);
    const signup = all.body.records.find((r: { event: string; status: string }) => r.event === "user.signup" && r.status === "failed");
    expect(signup.deliveries.map((d: { connection: string; status: string }) => [d.connection, d.status]).sort()).toEqual([
      ["acme-hook", "failed"],
      ["acme-hubspot", "completed"],
    ]);
    const slack = await json(server, "/api/v1/dashboard/events?connection=acme-slack");
    expect(slack.body.records.map((r: { event: string }) => r.event)).toEqual(["deal.won"]);
    const failed = await json(server, "/api/v1/dashboard/events?status=failed&event=user.signup");
    expect(failed.body.records).toHaveLength(1);
    expect((await json(server, "/api/v1/dashboard/events?connection=globex-hook")).status).toBe(404);
    expect((await json(server, "/api/v1/dashboard/events?status=lost")).status).toBe(400);
  });

  it("pages through a destination filter with an exact cursor", async () => {
    const server = await start();
    const events = Array.from({ length: 30 }, (_, i) => ({ event: i % 3 === 0 ? "deal.won" : "user.signup", payload: { i } }));
    await post(server, "/api/v1/events/bulk", events);
    await server.engine.drain();
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Record<string, any> } = await json(server, `/api/v1/dashboard/events?connection=acme-slack&limit=4${cursor ? `&cursor=${cursor}` : ""}`);
      cursor = page.body.next_cursor;
      for (const r of page.body.records) expect(r.event).toBe("deal.won");
      seen.push(...page.body.records.map((r: { id: string }) => r.id));
    } while (cursor);
    expect(new Set(seen).size).toBe(10);
  });

  it("scopes every endpoint to the key's workspaces", async () => {
    const server = await seeded();
    expect((await json(server, "/api/v1/dashboard/events?workspace=acme-prod", "globex")).status).toBe(404);
    expect((await json(server, "/api/v1/dashboard/connections?workspace=acme-prod", "globex")).status).toBe(404);
    expect((await json(server, "/api/v1/dashboard/series?workspace=acme-prod", "globex")).status).toBe(404);
    expect((await json(server, "/api/v1/dashboard/events?workspace=nope", "globex")).status).toBe(404);
    const globex = await json(server, "/api/v1/dashboard/events", "globex");
    expect(globex.body.records.map((r: { workspace: string }) => r.workspace)).toEqual(["globex-prod"]);
    // A key that reaches several workspaces names one.
    expect((await json(server, "/api/v1/dashboard/events", "both")).status).toBe(400);
    expect((await json(server, "/api/v1/dashboard/events?workspace=globex-prod", "both")).body.records).toHaveLength(1);
    expect((await server.app.request("/api/v1/dashboard/events")).status).toBe(401);
  });

  it("reports each connection's circuit, queue, success rate and last error", async () => {
    const server = await seeded();
    const { body } = await json(server, "/api/v1/dashboard/connections");
    expect(body.records.map((r: { id: string }) => r.id)).toEqual(["acme-hook", "acme-hubspot", "acme-slack"]);
    const hook = body.records[0];
    expect(hook).toMatchObject({ type: "webhook", mode: "sandbox", circuit: "closed", disabled: false, in_flight: 0, queued: 0, rules: 1 });
    expect(hook.health).toMatchObject({ attempts: 2, window: 2, delivered: 1, success_rate: 0.5, last_outcome: "delivered" });
    expect(hook.health.last_error).toMatch(/400/);
    expect(Date.parse(hook.health.last_error_at)).toBeGreaterThan(0);
    expect(body.records[2].health).toMatchObject({ attempts: 1, success_rate: 1, last_error: null });
    expect(JSON.stringify(body)).not.toContain("credentials");
  });

  it("answers attempts over time by outcome", async () => {
    const server = await seeded();
    const { body } = await json(server, "/api/v1/dashboard/series?window=15m");
    expect(body).toMatchObject({ workspace: "acme-prod", window: "15m", bucket_ms: 60_000 });
    expect(body.buckets).toHaveLength(15);
    expect(body.totals).toMatchObject({ delivered: 4, rejected_client_error: 1, rate_limited: 0 });
    const globex = await json(server, "/api/v1/dashboard/series?window=24h", "globex");
    expect(globex.body.buckets).toHaveLength(48);
    expect(globex.body.totals.delivered).toBe(1);
    expect((await json(server, "/api/v1/dashboard/series?window=2y")).status).toBe(400);
  });
});

describe("createDeliveryStats", () => {
  const delivery = (over: Partial<Delivery>): Delivery =>
    ({
      id: "d",
      workspace: "w",
      connection: "c",
      status: "completed",
      last_outcome: "delivered",
      last_error: null,
      updated_at: new Date(0).toISOString(),
      ...over,
    }) as Delivery;

  it("counts attempts only, and keeps the success rate over the last attempts", () => {
    let now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const stats = createDeliveryStats({ now: () => now });
    const at = () => new Date(now).toISOString();
    stats.record(delivery({ status: "pending", last_outcome: "timeout", updated_at: at() })); // a retry request: no attempt
    stats.record(delivery({ status: "canceled", last_outcome: "timeout", updated_at: at() })); // a cancel: no attempt
    for (let i = 0; i < HEALTH_WINDOW; i++) stats.record(delivery({ status: "retrying", last_outcome: "timeout", last_error: "no answer", updated_at: at() }));
    now += 60_000;
    for (let i = 0; i < 10; i++) stats.record(delivery({ updated_at: at() }));
    const health = stats.health("c");
    expect(health).toMatchObject({ attempts: HEALTH_WINDOW + 10, window: HEALTH_WINDOW, delivered: 10, success_rate: 0.1, last_outcome: "delivered", last_error: "no answer" });
    const series = stats.series(["w"], 5 * 60_000, 60_000);
    expect(series.buckets.map((b) => [b.counts.timeout, b.counts.delivered])).toEqual([
      [0, 0],
      [0, 0],
      [0, 0],
      [HEALTH_WINDOW, 0],
      [0, 10],
    ]);
    expect(stats.series(["other"], 5 * 60_000, 60_000).totals.delivered).toBe(0);
    expect(stats.health("unknown")).toMatchObject({ attempts: 0, success_rate: null });
  });

  it("forgets minutes older than a day", () => {
    let now = Date.UTC(2026, 0, 1);
    const stats = createDeliveryStats({ now: () => now });
    stats.record(delivery({ updated_at: new Date(now).toISOString() }));
    now += 25 * 3600_000;
    stats.record(delivery({ updated_at: new Date(now).toISOString() }));
    expect(stats.series(["w"], 48 * 3600_000, 3600_000).totals.delivered).toBe(1);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { memoryStore, type Store } from "@meshwork/rules";
import { afterEach, describe, expect, it } from "vitest";
import { bearer, CREDENTIAL_STRINGS, ingestHeaders, KEYS, post, SECRETS, startServer, testConfig } from "./__fixtures__/setup.js";
import { createServer, loadConfigFile, memoryIdempotencyStore, sqliteIdempotencyStore, type MeshworkServer } from "./index.js";
import { createLogger } from "./logger.js";

const servers: MeshworkServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const track = (s: MeshworkServer) => (servers.push(s), s);
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "meshwork-server-"));
  dirs.push(dir);
  return dir;
};
const signup = (n: number) => ({ event: "user.signup", payload: { email: `u${n}@northstar.io` } });

describe("health, readiness and metrics", () => {
  it("is live at once, ready once started, and not ready while draining", async () => {
    const server = createServer({ config: testConfig(), logger: false });
    expect((await server.app.request("/healthz")).status).toBe(200);
    const starting = await server.app.request("/readyz");
    expect(starting.status).toBe(503);
    expect(await starting.json()).toEqual({ status: "starting" });
    await server.start();
    const ready = await server.app.request("/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    await server.close();
    expect(server.draining).toBe(true);
    const draining = await server.app.request("/readyz");
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: "draining" });
    expect((await server.app.request("/healthz")).status).toBe(200);
  });

  it("reports not ready when the store does not answer", async () => {
    const inner = memoryStore();
    let broken = false;
    const store: Store = { ...inner, name: "flaky", listEvents: (q) => (broken ? Promise.reject(new Error("disk on fire")) : inner.listEvents(q)) };
    const server = track(await startServer({ store }));
    broken = true;
    const res = await server.app.request("/readyz");
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: "store_unavailable" });
  });

  it("serves Prometheus text: deliveries by status and outcome per destination type, queue depth, latency histograms", async () => {
    const server = track(await startServer());
    server.engine.sandbox("acme-hook").inject({ status: 400, times: 1 });
    await post(server, "/api/v1/events/bulk", [signup(1), signup(2), { event: "nope" }]);
    await server.engine.drain({ timeoutMs: 5000 });
    const res = await server.app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('meshwork_deliveries_total{destination_type="webhook",status="completed",outcome="delivered"} 1');
    expect(text).toContain('meshwork_deliveries_total{destination_type="webhook",status="failed",outcome="rejected_client_error"} 1');
    expect(text).toContain('meshwork_deliveries_total{destination_type="hubspot",status="completed",outcome="delivered"} 2');
    expect(text).toMatch(/meshwork_queue_depth\{state="queued"\} 0/);
    expect(text).toMatch(/meshwork_open_deliveries 0/);
    expect(text).toMatch(/meshwork_ingest_duration_seconds_count\{route="bulk"\} 1/);
    expect(text).toMatch(/meshwork_delivery_latency_seconds_count\{destination_type="webhook",status="completed"\} 1/);
    expect(text).toContain('meshwork_ingested_events_total{workspace="acme-prod",result="accepted"} 2');
    expect(text).toContain('meshwork_ingested_events_total{workspace="acme-prod",result="rejected"} 1');
    expect(text).toMatch(/meshwork_http_requests_total\{method="POST",route="\/api\/v1\/events\/bulk",status="207"\} 1/);
    expect(text).toContain("meshwork_process_resident_memory_bytes");
    const off = track(await startServer({ metrics: false }));
    expect((await off.app.request("/metrics")).status).toBe(404);
  });
});

describe("shutdown", () => {
  it("lets an ingest in progress commit and answer 201, refuses new ones with 503, then stops", async () => {
    const inner = memoryStore();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const store: Store = { ...inner, insertEvents: async (items) => (await gate, inner.insertEvents(items)) };
    const server = await startServer({ store });
    const inFlight = post(server, "/api/v1/events", signup(1));
    await new Promise((r) => setTimeout(r, 20));
    const closing = server.close();
    await new Promise((r) => setTimeout(r, 20));
    expect((await server.app.request("/readyz")).status).toBe(503);
    expect((await post(server, "/api/v1/events", signup(2))).status).toBe(503);
    release();
    const answer = await inFlight;
    expect(answer.status).toBe(201);
    await closing;
    const { event } = (await answer.json()) as { event: { id: string } };
    expect((await inner.getEvents(event.id)).length).toBe(1);
  });

  it("keeps events, deliveries and Idempotency-Keys in SQLite across a restart", async () => {
    const db = join(tempDir(), "meshwork.db");
    const first = await startServer({ db });
    const headers = ingestHeaders(KEYS.acme, { "idempotency-key": "restart-1" });
    const before = await post(first, "/api/v1/events/bulk", [signup(1), signup(2)], headers);
    const body = await before.text();
    await first.engine.drain({ timeoutMs: 5000 });
    await first.close();
    // The key is kept in a file of its own, so its writes never wait for the engine's writer thread.
    const cache = new Database(`${db}-idempotency`, { readonly: true });
    expect(cache.prepare("SELECT key FROM meshwork_idempotency").pluck().all()).toEqual(["restart-1"]);
    cache.close();
    const engineFile = new Database(db, { readonly: true });
    expect(engineFile.prepare("SELECT name FROM sqlite_master WHERE name = 'meshwork_idempotency'").all()).toEqual([]);
    engineFile.close();

    const second = track(await startServer({ db }));
    const after = await post(second, "/api/v1/events/bulk", [signup(1), signup(2)], headers);
    expect(after.headers.get("idempotent-replayed")).toBe("true");
    expect(await after.text()).toBe(body);
    const page = await second.engine.events.list({ workspace: "acme-prod" });
    expect(page.records.map((e) => e.status)).toEqual(["completed", "completed"]);
    const listed = await second.app.request("/api/v1/events", { headers: await bearer("acme") });
    expect(((await listed.json()) as { count: number }).count).toBe(2);
  });
});

describe("idempotency stores", () => {
  for (const [name, make] of [
    ["memory", () => memoryIdempotencyStore({ maxBytes: 600 })],
    ["sqlite", () => sqliteIdempotencyStore({ path: join(tempDir(), "idem.db") })],
  ] as const) {
    it(`${name}: first answer wins, lookups honour the age limit, purge drops old ones`, async () => {
      const store = make();
      await store.open();
      const record = (key: string, createdAt: number, body = "{}") => ({ workspace: "w", key, fingerprint: "f", status: 201, body, createdAt });
      await store.put(record("a", 1000, '{"first":true}'));
      await store.put(record("a", 2000, '{"second":true}'));
      expect((await store.get("w", "a", 0))?.body).toBe('{"first":true}');
      expect(await store.get("w", "a", 1001)).toBeUndefined();
      expect(await store.get("other", "a", 0)).toBeUndefined();
      await store.put(record("b", 5000));
      expect(await store.purge(2000)).toBe(1);
      expect(await store.get("w", "a", 0)).toBeUndefined();
      expect(await store.get("w", "b", 0)).toBeDefined();
      await store.close();
    });
  }

  it("sqlite: a put waits on a timer while another connection holds the write lock, without blocking the event loop", async () => {
    const path = join(tempDir(), "idem.db");
    const store = sqliteIdempotencyStore({ path, busyTimeoutMs: 2000 });
    await store.open();
    const other = new Database(path);
    other.exec("BEGIN IMMEDIATE");
    const record = (key: string) => ({ workspace: "w", key, fingerprint: "f", status: 201, body: `{"key":"${key}"}`, createdAt: Date.now() });
    let stored = false;
    const loopStarted = performance.now();
    const put = Promise.all([store.put(record("a")), store.put(record("b"))]).then(() => (stored = true));
    // The event loop goes on while the lock is held: timers fire, the puts wait.
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(performance.now() - loopStarted).toBeLessThan(1000);
    expect(stored).toBe(false);
    other.exec("COMMIT");
    await put;
    expect((await store.get("w", "a", 0))?.body).toBe('{"key":"a"}');
    expect((await store.get("w", "b", 0))?.body).toBe('{"key":"b"}');

    // Held past busyTimeoutMs: a clear, retryable error, and nothing half-written.
    const impatient = sqliteIdempotencyStore({ path, busyTimeoutMs: 30 });
    await impatient.open();
    other.exec("BEGIN IMMEDIATE");
    await expect(impatient.put(record("c"))).rejects.toMatchObject({ code: "idempotency_store_error", retryable: true });
    other.exec("ROLLBACK");
    expect(await impatient.get("w", "c", 0)).toBeUndefined();
    other.close();
    await impatient.close();
    await store.close();
  });

  it("memory: stays within its byte budget, dropping the oldest", async () => {
    const store = memoryIdempotencyStore({ maxBytes: 1000 });
    for (let i = 0; i < 20; i++) await store.put({ workspace: "w", key: `k${i}`, fingerprint: "f", status: 201, body: "x".repeat(100), createdAt: i });
    expect(await store.get("w", "k0", 0)).toBeUndefined();
    expect(await store.get("w", "k19", 0)).toBeDefined();
  });
});

describe("loadConfigFile", () => {
  const plain = JSON.stringify(testConfig());

  it("reads a bare config, the { config, server } form and a function, from TypeScript and JSON", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "bare.ts"), `const config: { workspaces: unknown[] } = ${plain};\nexport default config;\n`);
    writeFileSync(join(dir, "module.mts"), `export default { config: ${plain}, server: { port: 9999, rateLimit: false }, destinationOptions: { webhook: { allowPrivateNetworks: true } } };\n`);
    writeFileSync(join(dir, "factory.ts"), `export default async () => (${plain});\n`);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ config: testConfig(), server: { host: "0.0.0.0" } }));
    const bare = await loadConfigFile(join(dir, "bare.ts"));
    expect(bare.config).toMatchObject({ workspaces: [{ id: "acme-prod" }, { id: "globex-prod" }] });
    expect(bare.path).toBe(resolve(dir, "bare.ts"));
    const mod = await loadConfigFile(join(dir, "module.mts"));
    expect(mod.server).toEqual({ port: 9999, rateLimit: false });
    expect(mod.destinationOptions).toEqual({ webhook: { allowPrivateNetworks: true } });
    expect((await loadConfigFile(join(dir, "factory.ts"))).config).toMatchObject({ rules: expect.any(Array) });
    expect((await loadConfigFile(join(dir, "config.json"))).server).toEqual({ host: "0.0.0.0" });
  });

  it("resolves @meshwork imports through tsconfig paths and passes defineConfig's problems through", async () => {
    const dir = tempDir();
    const packages = resolve(import.meta.dirname, "../..");
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: { paths: { "@meshwork/*": [`${packages}/*/src/index.ts`] } } }));
    writeFileSync(
      join(dir, "meshwork.config.ts"),
      `import { defineConfig } from "@meshwork/rules";\nimport { webhook } from "@meshwork/webhook";\nexport default { config: defineConfig(${plain}), destinations: [webhook({ allowPrivateNetworks: true })] };\n`,
    );
    const loaded = await loadConfigFile(join(dir, "meshwork.config.ts"));
    expect(loaded.destinations?.map((d) => d.type)).toEqual(["webhook"]);
    expect((loaded.config as { kind?: string }).kind).toBe("meshwork.config");
    writeFileSync(join(dir, "broken.config.ts"), `import { defineConfig } from "@meshwork/rules";\nexport default defineConfig({ workspaces: [], connections: [], rules: [{ id: "r" }] });\n`);
    await expect(loadConfigFile(join(dir, "broken.config.ts"))).rejects.toMatchObject({ code: "invalid_config", problems: expect.arrayContaining([expect.objectContaining({ path: expect.stringMatching(/^rules\[0\]/) })]) });
  }, 30_000);

  it("explains what is wrong with the file", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "empty.ts"), "export default 42;\n");
    writeFileSync(join(dir, "syntax.ts"), "export default {{;\n");
    writeFileSync(join(dir, "bad.json"), "{ nope");
    await expect(loadConfigFile(join(dir, "missing.ts"))).rejects.toMatchObject({ code: "config_load_failed", message: expect.stringContaining("does not exist") });
    await expect(loadConfigFile(join(dir, "empty.ts"))).rejects.toMatchObject({ code: "config_load_failed", message: expect.stringContaining("default export") });
    await expect(loadConfigFile(join(dir, "syntax.ts"))).rejects.toMatchObject({ code: "config_load_failed" });
    await expect(loadConfigFile(join(dir, "bad.json"))).rejects.toMatchObject({ code: "config_load_failed" });
  });
});

describe("logs", () => {
  it("never carry credentials, keys or tokens", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ level: "trace" }, sink);
    const server = await startServer({ logger });
    server.engine.sandbox("acme-hook").inject({ status: 401, times: 1 });
    await post(server, "/api/v1/events", signup(1));
    await post(server, "/api/v1/events", signup(1), ingestHeaders("mw_pub_unknown_00000000"));
    await server.app.request("/api/v1/events", { headers: { authorization: `Bearer ${SECRETS.acmeSecretKey}` } });
    await server.engine.drain({ timeoutMs: 5000 });
    await server.close();
    logger.info({ connection: { credentials: { accessToken: SECRETS.hubspotToken } }, headers: { authorization: "Bearer abc" }, secretKey: SECRETS.bothSecretKey }, "probe");
    const text = lines.join("");
    expect(text).toContain('"msg":"stopped"');
    expect(text).toContain('"msg":"probe"');
    expect(text).toContain("[redacted]");
    for (const secret of [...CREDENTIAL_STRINGS, KEYS.acme, "Bearer abc"]) expect(text).not.toContain(secret);
  });
});

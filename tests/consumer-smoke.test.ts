// Installs the packed packages into a scratch app outside the workspace, the way a user would,
// and imports them from ESM, CJS and TypeScript (node16 and bundler resolution), and on newer
// Node majors. Needs the packages built (`pnpm build`) first.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = join(import.meta.dirname, "..");

/** The named exports each package must offer; a package missing from this list fails the test. */
const expectedExports: Record<string, string[]> = {
  "@meshwork/events": ["createClient", "EventsClient", "MeshworkValidationError"],
  "@meshwork/destination-kit": ["defineDestination", "defineAction", "runAction", "RetryableError"],
  "@meshwork/rules": ["createEngine", "defineConfig", "memoryStore", "sqliteStore", "env"],
  "@meshwork/hubspot": ["hubspot"],
  "@meshwork/activecampaign": ["activecampaign"],
  "@meshwork/intercom": ["intercom"],
  "@meshwork/slack": ["slack"],
  "@meshwork/webhook": ["webhook", "verifyWebhook"],
  "@meshwork/server": ["createServer"],
  "@meshwork/postgres": ["postgresStore"],
};

const packageDirs = readdirSync(join(repo, "packages"))
  .map((dir) => join(repo, "packages", dir))
  .filter((dir) => existsSync(join(dir, "package.json")))
  .filter((dir) => !JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).private);
const names = packageDirs.map((dir) => JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name as string);

let app: string;
function run(cmd: string, args: string[], cwd = app): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: "pipe", env: { ...process.env, npm_config_yes: "true" } });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${stdout ?? ""}${stderr ?? ""}`, { cause: error });
  }
}

beforeAll(() => {
  for (const dir of packageDirs) {
    if (!existsSync(join(dir, "dist"))) throw new Error(`${dir} is not built: run \`pnpm build\` first`);
  }
  app = mkdtempSync(join(tmpdir(), "meshwork-consumer-"));
  const tarballs = join(app, "tarballs");
  mkdirSync(tarballs);
  for (const dir of packageDirs) run("pnpm", ["pack", "--pack-destination", tarballs], dir);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "consumer", private: true, version: "1.0.0" }));
  const files = readdirSync(tarballs).map((file) => join(tarballs, file));
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...files]);
}, 600_000);

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

describe("the packed packages, installed into an app outside the workspace", () => {
  it("lists an expectation for every published package", () => {
    expect(names.sort()).toEqual(Object.keys(expectedExports).sort());
  });

  const esm = () =>
    Object.entries(expectedExports)
      .map(
        ([name, keys]) =>
          `{ const m = await import(${JSON.stringify(name)}); for (const k of ${JSON.stringify(keys)}) if (m[k] === undefined) throw new Error(${JSON.stringify(name)} + " lacks " + k); }`,
      )
      .join("\n") + `\nconsole.log("esm ok");\n`;

  it("imports from ESM", () => {
    writeFileSync(join(app, "smoke.mjs"), esm());
    expect(run("node", ["smoke.mjs"])).toContain("esm ok");
  }, 60_000);

  it("requires from CJS", () => {
    const source =
      Object.entries(expectedExports)
        .map(
          ([name, keys]) =>
            `{ const m = require(${JSON.stringify(name)}); for (const k of ${JSON.stringify(keys)}) if (m[k] === undefined) throw new Error(${JSON.stringify(name)} + " lacks " + k); }`,
        )
        .join("\n") + `\nconsole.log("cjs ok");\n`;
    writeFileSync(join(app, "smoke.cjs"), source);
    expect(run("node", ["smoke.cjs"])).toContain("cjs ok");
  }, 60_000);

  // The SQLite store's writer thread runs from the installed package: it writes a file database
  // from its thread (`writer: "thread"` fails rather than falling back), and the reads see it.
  const sqliteSmoke = (load: string) => `
${load}
const { mkdtempSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");
(async () => {
  const store = sqliteStore({ path: join(mkdtempSync(join(tmpdir(), "meshwork-smoke-")), "smoke.db"), writer: "thread" });
  await store.open();
  const event = { seq: 0, workspace: "w1", id: "e1", event: "user.signup", resource: null, resource_id: null, payload: { email: "a@b.co" },
    created_by: "smoke", created_at: 1, status: "pending", total_rules: 1, completed_count: 0, failed_count: 0 };
  const delivery = { id: "d1", workspace: "w1", event_id: "e1", rule_id: "r1", connection: "c1", action: "a", integration_type: "webhook",
    event: "user.signup", status: "pending", attempt_count: 0, round_start: 0, next_attempt_at: null, last_error: null, last_outcome: null,
    idempotency_key: "d1", created_at: 1, updated_at: 1, completed_at: null };
  const [inserted] = await store.insertEvents([{ event, deliveries: [delivery] }]);
  if (!inserted.inserted || !(inserted.event.seq > 0)) throw new Error("not inserted: " + JSON.stringify(inserted));
  Object.assign(delivery, { status: "completed", attempt_count: 1, last_outcome: "delivered", updated_at: 2, completed_at: 2 });
  await store.write({ deliveries: [delivery], attempts: [{ delivery_id: "d1", workspace: "w1", event_id: "e1", rule_id: "r1", attempt: 1,
    started_at: 1, duration_ms: 1, status: 200, outcome: "delivered", retryable: false, message: "ok", exchanges: [], notes: ["smoke"] }] });
  const [stored] = await store.getEvents("e1");
  const attempts = await store.listAttempts("d1");
  if (stored.status !== "completed" || attempts[0].notes[0] !== "smoke") throw new Error("read back " + JSON.stringify({ stored, attempts }));
  await store.close();
  console.log("sqlite ok");
})().catch((error) => { console.error(error); process.exit(1); });
`;

  it("writes a file database from sqliteStore's writer thread, from ESM and CJS", () => {
    writeFileSync(join(app, "sqlite-smoke.mjs"), sqliteSmoke(`import { createRequire } from "node:module";\nimport { sqliteStore } from "@meshwork/rules";\nconst require = createRequire(import.meta.url);`));
    expect(run("node", ["sqlite-smoke.mjs"])).toContain("sqlite ok");
    writeFileSync(join(app, "sqlite-smoke.cjs"), sqliteSmoke(`const { sqliteStore } = require("@meshwork/rules");`));
    expect(run("node", ["sqlite-smoke.cjs"])).toContain("sqlite ok");
  }, 60_000);

  it.each(["node16", "bundler"])("type-checks from TypeScript with moduleResolution %s", (resolution) => {
    const source = [
      `import { createClient, EventsClient } from "@meshwork/events";`,
      `import { createEngine, defineConfig, memoryStore } from "@meshwork/rules";`,
      `import { defineDestination, type Destination } from "@meshwork/destination-kit";`,
      `import { hubspot } from "@meshwork/hubspot";`,
      `import { activecampaign } from "@meshwork/activecampaign";`,
      `import { intercom } from "@meshwork/intercom";`,
      `import { slack } from "@meshwork/slack";`,
      `import { webhook, verifyWebhook } from "@meshwork/webhook";`,
      `const destinations: Destination[] = [hubspot(), activecampaign(), intercom(), slack(), webhook()];`,
      `const engine = createEngine({ config: defineConfig({ workspaces: [], connections: [], rules: [] }), destinations, store: memoryStore() });`,
      `const client = createClient({ publishableKey: "mw_pub_x", engine });`,
      `void client.emit({ event: "user.signup", payload: { email: "a@b.co" } }).catch(() => {});`,
      `void new EventsClient("mesh_pub_x", { apiBaseUrl: "http://127.0.0.1:1" });`,
      `export { defineDestination, verifyWebhook };`,
    ].join("\n");
    const ext = resolution === "node16" ? "mts" : "ts";
    writeFileSync(join(app, `smoke-${resolution}.${ext}`), source);
    const module = resolution === "node16" ? "node16" : "preserve";
    writeFileSync(
      join(app, `tsconfig.${resolution}.json`),
      JSON.stringify({
        compilerOptions: {
          module,
          moduleResolution: resolution,
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          types: ["node"],
          lib: ["es2023", "dom"],
        },
        files: [`smoke-${resolution}.${ext}`],
      }),
    );
    const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
    if (!existsSync(join(app, "node_modules", "@types", "node"))) {
      // The consumer's own @types/node, as a TypeScript user would have.
      run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "@types/node@20"]);
    }
    run("node", [tsc, "-p", `tsconfig.${resolution}.json`]);
  }, 300_000);

  it.each(["22", "24"])("imports from ESM on Node %s", (major) => {
    writeFileSync(join(app, "smoke.mjs"), esm());
    expect(run("npx", ["-y", `node@${major}`, "smoke.mjs"])).toContain("esm ok");
  }, 300_000);
});

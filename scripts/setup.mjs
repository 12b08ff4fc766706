#!/usr/bin/env node
// One-step set-up on a machine with only Node >= 20 and npm: installs the pinned pnpm into
// .tools/ (no global install, no corepack), then the workspace's dependencies. Idempotent.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager.split("@")[1];
const toolsDir = join(root, ".tools");
const pnpmBin = join(toolsDir, "node_modules", ".bin", "pnpm");

const run = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });

const installed = existsSync(pnpmBin) && execFileSync(pnpmBin, ["--version"], { encoding: "utf8" }).trim();
if (installed !== version) {
  console.log(`setup: installing pnpm ${version} into .tools/`);
  run("npm", ["install", "--prefix", toolsDir, "--no-save", "--no-package-lock", "--silent", `pnpm@${version}`]);
}

// Native addons (better-sqlite3) build against the local Node headers when there is no network
// for prebuilt binaries; pnpm does not read npm's global config, so pass it on.
const env = {};
if (!process.env.npm_config_nodedir && existsSync("/usr/include/node/node.h")) env.npm_config_nodedir = "/usr";

run(pnpmBin, ["install", "--frozen-lockfile", "--reporter=silent"], env);

// `node scripts/setup.mjs run <script>`: then run a workspace script with the pinned pnpm on PATH.
const [verb, ...rest] = process.argv.slice(2);
if (verb === "run") {
  const PATH = `${join(toolsDir, "node_modules", ".bin")}:${process.env.PATH}`;
  try {
    run(pnpmBin, ["--silent", "run", ...rest], { ...env, PATH });
  } catch (error) {
    process.exit(error.status ?? 1);
  }
}

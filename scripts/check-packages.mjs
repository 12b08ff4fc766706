#!/usr/bin/env node
// Checks every built package the way npm consumers will see it: publint (package.json and
// files) and @arethetypeswrong/cli (types for import and require under every resolution mode).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const packagesDir = join(import.meta.dirname, "..", "packages");
let failed = 0;
for (const dir of readdirSync(packagesDir)) {
  const root = join(packagesDir, dir);
  if (!existsSync(join(root, "package.json"))) continue;
  const { name, private: isPrivate } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  if (isPrivate) continue;
  for (const [tool, args] of [
    ["publint", ["--strict"]],
    ["attw", ["--pack", ".", "--profile", "node16", "--format", "table-flipped"]],
  ]) {
    try {
      execFileSync(tool, args, { cwd: root, stdio: "pipe", encoding: "utf8" });
      console.log(`✓ ${tool} ${name}`);
    } catch (error) {
      failed++;
      console.error(`✗ ${tool} ${name}\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    }
  }
}
if (failed) {
  console.error(`${failed} package check(s) failed`);
  process.exit(1);
}

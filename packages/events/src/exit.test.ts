import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const child = fileURLToPath(new URL("./__fixtures__/await-emit-child.ts", import.meta.url));
const run = (mode: string) =>
  spawnSync(process.execPath, ["--import", tsx, child, mode], { encoding: "utf8", timeout: 30_000 });

describe("a Node script that awaits emit and has nothing else to do", () => {
  it("sends the event before exiting instead of quitting with the promise unsettled", () => {
    const result = run("up");
    expect(result.stdout.trim()).toBe("accepted user.signup");
    expect(result.status).toBe(0);
  });

  it("does not hold the process open retrying when the event cannot go now", () => {
    const started = Date.now();
    const result = run("down");
    expect(result.error).toBeUndefined(); // not killed by the 30 s timeout
    expect(result.stdout).toBe("");
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { expect, it } from "vitest";

const BUDGET = 12 * 1024;

it("bundles the browser entry, ofetch included, under 12 KB min+gzip without any Node built-in", async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./index.ts", import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "esm",
    minify: true,
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]!.contents;
  const gzipped = gzipSync(code).length;
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.some((path) => path.includes("ofetch"))).toBe(true);
  const builtins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);
  expect(inputs.filter((path) => builtins.has(path) || path.startsWith("node:"))).toEqual([]);
  expect(inputs.filter((path) => path.includes("node-fetch-native"))).toEqual([]);
  console.info(`@meshwork/events browser bundle: ${code.length} B minified, ${gzipped} B gzip`);
  expect(gzipped).toBeLessThanOrEqual(BUDGET);
});

// Benchmark child processes run the built packages, as an installed app does (tsx compiles only
// the benchmark's own files): sources under tsx carry per-function helpers that cost about a fifth
// of the CPU. Children inherit TSX_TSCONFIG_PATH, whose tsconfig has no `paths`, so `@meshwork/*`
// resolves through node_modules to packages/*/dist.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function useBuiltPackages(names: string[]): void {
  process.env.TSX_TSCONFIG_PATH ??= fileURLToPath(new URL("./tsconfig.built.json", import.meta.url));
  for (const name of names) {
    if (!existsSync(fileURLToPath(new URL(`../packages/${name}/dist/index.js`, import.meta.url)))) {
      throw new Error(`packages/${name} is not built: run \`npm run build\` (or \`node scripts/setup.mjs run build\`) first`);
    }
  }
}

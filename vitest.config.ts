import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url));

// Tests import packages by their public names; point those at the sources so no build is needed.
export default defineConfig({
  resolve: {
    alias: [
      { find: "@meshwork/destination-kit/testing", replacement: src("destination-kit/src/testing.ts") },
      { find: "@meshwork/events/node", replacement: src("events/src/node.ts") },
      { find: /^@meshwork\/([a-z-]+)$/, replacement: src("$1/src/index.ts") },
    ],
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "tests/**/*.test.ts", "examples/*/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    typecheck: { enabled: true, include: ["packages/*/src/**/*.test-d.ts"], tsconfig: "./tsconfig.json" },
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});

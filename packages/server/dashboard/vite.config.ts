// The dashboard: Preact, built by Vite into ../dist/dashboard, which `meshwork serve` serves at `/`.
// `pnpm --filter @meshwork/server build` runs this after tsup; the browser tests build it into a
// temporary folder of their own.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/",
  publicDir: false,
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  // `npx vite --config packages/server/dashboard/vite.config.ts` for development, against a running `meshwork serve`.
  server: { host: "127.0.0.1", proxy: { "/api": process.env.MESHWORK_URL ?? "http://127.0.0.1:8787" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/dashboard", import.meta.url)),
    emptyOutDir: true,
    assetsDir: "_dashboard",
    target: "es2022",
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});

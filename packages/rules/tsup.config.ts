import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm", "cjs"],
  dts: true,
  clean: true,
  // import.meta.url in the CommonJS build (the SQLite store resolves better-sqlite3 for its checkpoint worker).
  shims: true,
});

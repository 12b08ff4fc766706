// A tiny static server for the example page: serves index.html and done.html, and app.js bundled
// from app.ts by esbuild, with `@meshwork/events` taken from this repository's sources.
//
//   npx tsx examples/browser/serve.ts            # http://127.0.0.1:5173
//   npx meshwork serve --config examples/browser/meshwork.config.ts --memory   # in another terminal
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** Bundles the page script (ES module, minified) with the events client from the sources. */
export async function bundleApp(): Promise<string> {
  const result = await build({
    entryPoints: [here("./app.ts")],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    write: false,
    logLevel: "silent",
    alias: { "@meshwork/events": here("../../packages/events/src/index.ts") },
  });
  return result.outputFiles[0]!.text;
}

/** Starts the static server; `port: 0` picks a free one. Answers the URL and a `close`. */
export async function serveExample(options: { port?: number; host?: string } = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const app = await bundleApp();
  const files: Record<string, { type: string; body: () => Promise<string> }> = {
    "/": { type: "text/html; charset=utf-8", body: () => readFile(here("./index.html"), "utf8") },
    "/index.html": { type: "text/html; charset=utf-8", body: () => readFile(here("./index.html"), "utf8") },
    "/done.html": { type: "text/html; charset=utf-8", body: () => readFile(here("./done.html"), "utf8") },
    "/app.js": { type: "text/javascript; charset=utf-8", body: async () => app },
  };
  const server: Server = createServer((req, res) => {
    const file = files[new URL(req.url ?? "/", "http://x").pathname];
    if (!file || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    file.body().then(
      (body) => res.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(body),
      () => res.writeHead(500).end(),
    );
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 5173, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { url } = await serveExample();
  console.log(`example page: ${url}/?endpoint=http://127.0.0.1:8787`);
}

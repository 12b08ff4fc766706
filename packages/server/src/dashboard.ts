import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";

/** Where the built assets live under the dashboard folder, and under which URL path they are served. */
export const DASHBOARD_ASSETS = "_dashboard";

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  woff2: "font/woff2",
  json: "application/json",
};

/** Every page of the dashboard gets these: scripts and styles from this origin only, no framing, no referrer. */
export const DASHBOARD_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
};

/** The built dashboard beside the running module (`dist/dashboard`), or `dist/dashboard` of the package when running from `src`. */
export function findDashboardDir(): string | undefined {
  const here = typeof __dirname === "string" ? __dirname : dirname(fileURLToPath(import.meta.url));
  for (const dir of [join(here, "dashboard"), join(here, "..", "dist", "dashboard")]) {
    if (existsSync(join(dir, "index.html"))) return dir;
  }
  return undefined;
}

/**
 * Serves the dashboard: `GET /` answers its `index.html`, `GET /_dashboard/<file>` its hashed
 * assets (cached for a year). Everything is read into memory once. Without a build, `/` answers
 * 503 and says how to build it.
 */
export function registerDashboard(app: Hono, options: { dir?: string | undefined } = {}): void {
  const dir = options.dir ?? findDashboardDir();
  const index = dir && existsSync(join(dir, "index.html")) ? readFileSync(join(dir, "index.html"), "utf8") : undefined;
  const assets = new Map<string, { body: Uint8Array; type: string }>();
  const assetDir = dir && join(dir, DASHBOARD_ASSETS);
  if (assetDir && existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const type = TYPES[name.slice(name.lastIndexOf(".") + 1)];
      if (type) assets.set(name, { body: readFileSync(join(assetDir, name)), type });
    }
  }

  app.get("/", (c) => {
    if (index === undefined) {
      return c.text("The dashboard is not built. Run `pnpm --filter @meshwork/server build` (or start the server with dashboard: false / --no-dashboard).\n", 503, {
        "cache-control": "no-store",
      });
    }
    return c.html(index, 200, { ...DASHBOARD_HEADERS, "cache-control": "no-store" });
  });

  app.get(`/${DASHBOARD_ASSETS}/:file`, (c) => {
    const asset = assets.get(c.req.param("file"));
    if (!asset) return c.json({ message: `no dashboard asset ${c.req.param("file")}`, error: "not_found" }, 404);
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      ...DASHBOARD_HEADERS,
      "content-type": asset.type,
      "cache-control": "public, max-age=31536000, immutable",
    });
  });
}

// Issue 9: @meshwork/events in a web page, emitting to a Meshwork server on another origin (CORS,
// preflighted), batching, and flushing with keepalive when the page is hidden, left or closed.
// The server must end up with every event exactly once.
import type { EventSummary } from "@meshwork/rules";
import { createServer, type MeshworkServer } from "@meshwork/server";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import example, { PUBLISHABLE_KEY } from "../../examples/browser/meshwork.config.js";
import { serveExample } from "../../examples/browser/serve.js";
import { hasChromium, launchChromium } from "./chromium.js";
import { serveFetch } from "./http.js";

const WORKSPACE = "browser-demo";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(!hasChromium)("emitting from a web page (headless Chromium)", () => {
  let browser: Browser;
  let meshwork: MeshworkServer;
  let api: { url: string; close: () => Promise<void> };
  let site: { url: string; close: () => Promise<void> };
  /** Idempotency-Key of every bulk request that reached the server, in order. */
  const bulkKeys: string[] = [];
  const preflights: string[] = [];
  /** While set, bulk requests wait for it before the server handles them. */
  let gate: Promise<void> | undefined;

  beforeAll(async () => {
    site = await serveExample({ port: 0 });
    meshwork = createServer({ config: example.config, logger: false, rateLimit: false, cors: { origin: [site.url] } });
    await meshwork.start();
    api = await serveFetch(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/api/v1/events/bulk" && request.method === "OPTIONS") preflights.push(request.headers.get("access-control-request-headers") ?? "");
      if (path === "/api/v1/events/bulk" && request.method === "POST") {
        // As a page goes away the client sends CORS-simple requests: the key is in the query string.
        bulkKeys.push(request.headers.get("idempotency-key") ?? new URL(request.url).searchParams.get("idempotency_key") ?? "");
        if (gate) await gate;
      }
      return meshwork.fetch(request);
    });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await site?.close();
    await meshwork?.close();
  });

  async function open(session: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${site.url}/?endpoint=${encodeURIComponent(api.url)}&key=${PUBLISHABLE_KEY}&session=${session}&interval=60000`);
    await page.getByRole("button", { name: "Complete next step" }).waitFor();
    return page;
  }

  async function eventsOf(session: string): Promise<EventSummary[]> {
    const page = await meshwork.engine.events.list({ workspace: WORKSPACE, resource_id: session, limit: 500 });
    return page.records;
  }

  /** Waits until the server holds `count` events of the session (then a little longer, to see extras). */
  async function waitForEvents(session: string, count: number): Promise<EventSummary[]> {
    const deadline = Date.now() + 15_000;
    while ((await eventsOf(session)).length < count && Date.now() < deadline) await sleep(100);
    await sleep(300);
    return eventsOf(session);
  }

  async function payloads(session: string, count: number) {
    const events = await waitForEvents(session, count);
    return Promise.all(events.map(async (e) => ({ event: e.event, payload: (await meshwork.engine.events.get(e.id, { workspace: WORKSPACE }))!.payload })));
  }

  it("sends every event exactly once when the user leaves the page mid-batch", async () => {
    const session = "leave-mid-batch";
    const page = await open(session);
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve)); // the full batch is still in flight when the page goes away
    const keysBefore = bulkKeys.length;
    const next = page.getByRole("button", { name: "Complete next step" });
    for (let i = 0; i < 13; i++) await next.click(); // one batch of 10 in flight, 3 queued
    await page.getByRole("link", { name: "Finish onboarding" }).click();
    await page.waitForURL(/done\.html$/);
    await sleep(300);
    gate = undefined;
    release();
    const received = await payloads(session, 14);

    const steps = received.filter((r) => r.event === "onboarding.step_completed").map((r) => r.payload.step as number);
    expect(steps.sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(received.filter((r) => r.event === "onboarding.finished").map((r) => r.payload.steps)).toEqual([13]);
    expect(received).toHaveLength(14);
    // The batch in flight was sent again with keepalive under the same Idempotency-Key.
    const keys = bulkKeys.slice(keysBefore);
    expect(keys.filter((key, i) => keys.indexOf(key) !== i).length).toBeGreaterThanOrEqual(1);
    // The contract headers were preflighted (CORS) once for the origin.
    expect(preflights.join(",")).toContain("x-meshes-publishable-key");
    await page.close();
  });

  it("flushes when the tab is hidden, and the page sees the receipts", async () => {
    const session = "hidden-tab";
    const page = await open(session);
    const next = page.getByRole("button", { name: "Complete next step" });
    for (let i = 0; i < 3; i++) await next.click();
    await sleep(200);
    expect(await eventsOf(session)).toHaveLength(0); // batched: 3 < flushAt, interval 60 s
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { value: "hidden", configurable: true });
      document.dispatchEvent(new Event("visibilitychange", { bubbles: true }));
    });
    const counts = "3 emitted, 3 acknowledged by the server";
    await page.waitForFunction((text) => document.getElementById("counts")?.textContent === text, counts, { timeout: 10_000 });
    expect((await payloads(session, 3)).map((r) => r.payload.step).sort()).toEqual([1, 2, 3]);
    await page.close();
  });

  it("sends the queued events when the tab is closed", async () => {
    const session = "tab-closed";
    const page = await open(session);
    const next = page.getByRole("button", { name: "Complete next step" });
    for (let i = 0; i < 4; i++) await next.click();
    await page.waitForFunction(() => document.getElementById("counts")?.textContent?.startsWith("4 emitted"), undefined, { timeout: 10_000 });
    await page.close({ runBeforeUnload: true });
    expect((await payloads(session, 4)).map((r) => r.payload.step).sort()).toEqual([1, 2, 3, 4]);
  });
});

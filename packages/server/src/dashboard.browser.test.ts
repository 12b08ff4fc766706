// The dashboard in headless Chromium against a real server on 127.0.0.1: sign in, find a failed
// delivery, open its timeline, retry it and see it complete; replay with a dry-run count; the
// connections and activity pages; workspace isolation; no credential on screen or on the wire.
// Screenshots of each page go to test-results/dashboard/ for review.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasChromium, launchChromium } from "../../../tests/browser/chromium.js";
import { ACCESS, CREDENTIAL_STRINGS, KEYS, startServer } from "./__fixtures__/setup.js";
import type { MeshworkServer } from "./index.js";

const SHOTS = fileURLToPath(new URL("../../../test-results/dashboard/", import.meta.url));
const CONFIG = fileURLToPath(new URL("../dashboard/vite.config.ts", import.meta.url));

async function ingest(url: string, key: string, events: unknown[]): Promise<string[]> {
  const res = await fetch(`${url}/api/v1/events/bulk`, { method: "POST", headers: { "content-type": "application/json", "x-meshes-publishable-key": key }, body: JSON.stringify(events) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { records: Array<{ id: string }> }).records.map((r) => r.id);
}

describe.skipIf(!hasChromium)("dashboard (headless Chromium)", () => {
  let out: string;
  let server: MeshworkServer;
  let url: string;
  let browser: Browser;
  let acmeFailed: string[];
  let globexIds: string[];

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "meshwork-dashboard-"));
    await build({ configFile: CONFIG, logLevel: "silent", build: { outDir: out, emptyOutDir: true } });
    mkdirSync(SHOTS, { recursive: true });
    server = await startServer({ dashboard: { dir: out } });
    ({ url } = await server.listen({ port: 0, host: "127.0.0.1" }));

    // Two signups whose webhook answers 400 once each (failed, not retried), one that delivers,
    // a HubSpot 503 that waits for a retry, a Slack message; and Globex's own event.
    server.engine.sandbox("acme-hook").inject({ status: 400, body: { error: "missing field email_verified" }, times: 2 });
    acmeFailed = await ingest(url, KEYS.acme, [
      { event: "user.signup", payload: { email: "alex@northstar.io", plan: "pro" } },
      { event: "user.signup", payload: { email: "sam@northstar.io", plan: "team" } },
    ]);
    await server.engine.drain();
    server.engine.sandbox("acme-hubspot").inject({ status: 503, body: { message: "try later" }, times: 1 });
    await ingest(url, KEYS.acme, [
      { event: "user.signup", payload: { email: "kim@northstar.io" } },
      { event: "deal.won", resource: "deal", resource_id: "D-1042", payload: { amount: 12000 } },
    ]);
    globexIds = await ingest(url, KEYS.globex, [{ event: "user.signup", payload: { email: "ops@globex.test" } }]);
    await server.engine.drain();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  async function newPage(): Promise<{ context: BrowserContext; page: Page; sent: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const sent: string[] = [];
    page.on("request", (request) => sent.push(`${request.url()} ${JSON.stringify(request.headers())} ${request.postData() ?? ""}`));
    return { context, page, sent };
  }

  async function signIn(page: Page, who: { accessKey: string; secretKey: string }) {
    await page.goto(`${url}/`);
    await page.getByLabel("Access key").fill(who.accessKey);
    await page.getByLabel("Secret key").fill(who.secretKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { level: 1, name: "Events" }).waitFor();
  }

  /** Nothing secret on screen (text and markup) and the secret key never left the page. */
  async function expectNoCredential(page: Page, sent: string[]) {
    const html = await page.content();
    const text = await page.locator("body").innerText();
    for (const secret of CREDENTIAL_STRINGS) {
      expect(html).not.toContain(secret);
      expect(text).not.toContain(secret);
      expect(sent.join("\n")).not.toContain(secret);
    }
  }

  it("signs in, finds a failed delivery, opens its timeline, retries it and sees it complete", async () => {
    const { context, page, sent } = await newPage();
    await page.goto(`${url}/`);
    await page.getByRole("heading", { name: "Sign in to Meshwork" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "1-sign-in.png"), fullPage: true });

    // A wrong secret is refused with the server's reason.
    await page.getByLabel("Access key").fill(ACCESS.acme.accessKey);
    await page.getByLabel("Secret key").fill("sk_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("signature");

    await signIn(page, ACCESS.acme);
    await page.getByRole("link", { name: "deal.won" }).waitFor();
    await page.screenshot({ path: join(SHOTS, "2-events.png"), fullPage: true });

    await page.getByLabel("Status").selectOption("failed");
    await expect.poll(() => page.locator("table.events tbody tr").count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, "3-events-failed.png"), fullPage: true });

    await page.locator(`a[href="#/events/${acmeFailed[0]}"]`).click();
    const hook = page.getByRole("region", { name: /Acme webhook/ });
    await hook.getByText("HTTP 400").waitFor();
    await expect.poll(() => hook.locator(".badge").first().textContent()).toBe("Failed");
    await hook.getByText(/Request and response/).first().click();
    await page.screenshot({ path: join(SHOTS, "4-event-failed.png"), fullPage: true });

    await hook.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => hook.locator(".badge").first().textContent(), { timeout: 10_000 }).toBe("Completed");
    await hook.getByText("Attempt 2").waitFor();
    await expect.poll(() => hook.locator(".attempt").nth(1).locator(".badge").textContent()).toBe("Delivered");
    await page.getByRole("button", { name: "Show payload" }).click();
    await page.getByText('"plan": "pro"').waitFor();
    await page.screenshot({ path: join(SHOTS, "5-event-retried.png"), fullPage: true });
    await expectNoCredential(page, sent);
    await context.close();
  });

  it("replays a filtered set after a dry-run count, and shows connections and activity", async () => {
    const { context, page, sent } = await newPage();
    await signIn(page, ACCESS.acme);
    await page.getByLabel("Destination").selectOption("acme-hook");
    await page.getByLabel("Status").selectOption("failed");
    await page.waitForURL(/#\/events\?status=failed&connection=acme-hook$/);
    expect(await page.getByLabel("Destination").inputValue()).toBe("acme-hook");
    await expect.poll(() => page.locator("table.events tbody tr a.event-link").count()).toBe(1);
    const replay = page.getByRole("region", { name: "Replay deliveries" });
    await replay.getByText("destination Acme webhook").waitFor();
    await replay.getByRole("button", { name: "Count (dry run)" }).click();
    await replay.getByText("1 delivery would be sent again.").waitFor();
    await page.screenshot({ path: join(SHOTS, "6-replay-dry-run.png"), fullPage: true });
    await replay.getByRole("button", { name: "Replay 1 delivery" }).click();
    await replay.getByText("Replayed 1 delivery.").waitFor();
    await expect.poll(() => page.locator("table.events tbody td.empty").count(), { timeout: 10_000 }).toBe(1);

    await page.getByRole("link", { name: "Connections" }).click();
    await page.getByRole("heading", { level: 1, name: "Connections" }).waitFor();
    const rows = page.locator("table.connections tbody tr");
    await expect.poll(() => rows.count()).toBe(3);
    await expect.poll(() => page.getByRole("rowheader", { name: /Acme HubSpot/ }).count()).toBe(1);
    expect(await page.locator("table.connections").innerText()).toContain("try later");
    await page.screenshot({ path: join(SHOTS, "7-connections.png"), fullPage: true });

    await page.getByRole("link", { name: "Activity" }).click();
    await page.getByRole("img", { name: "Delivery attempts over time, by outcome" }).waitFor();
    await expect.poll(() => page.locator(".chart rect").count()).toBeGreaterThan(1);
    await page.screenshot({ path: join(SHOTS, "8-activity.png"), fullPage: true });
    await expectNoCredential(page, sent);
    await context.close();
  });

  it("is accessible: labelled controls, landmarks, keyboard sign-in", async () => {
    const { context, page } = await newPage();
    await page.goto(`${url}/`);
    await page.getByLabel("Access key").waitFor();
    await page.keyboard.type(ACCESS.acme.accessKey); // the first field has focus
    await page.keyboard.press("Tab");
    await page.keyboard.type(ACCESS.acme.secretKey);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Events" }).waitFor();
    expect(await page.getByRole("banner").count()).toBe(1);
    expect(await page.getByRole("navigation", { name: "Main" }).count()).toBe(1);
    expect(await page.getByRole("main").count()).toBe(1);
    const pages: Array<[string, RegExp]> = [
      ["#/connections", /^Connections$/],
      ["#/activity", /^Activity$/],
      [`#/events/${acmeFailed[1]}`, /^user\.signup$/],
      ["#/events", /^Events$/],
    ];
    for (const [hash, title] of pages) {
      await page.evaluate((h) => (location.hash = h), hash);
      await page.getByRole("heading", { level: 1, name: title }).waitFor();
      await page.locator("table, .chart, .delivery").first().waitFor();
      // The page's heading takes focus, so screen readers announce the new page.
      expect(await page.evaluate(() => document.activeElement?.tagName)).toBe("H1");
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll("input, select, button, meter")]
          .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label") && !(el.textContent ?? "").trim())
          .map((el) => el.outerHTML),
      );
      expect(unlabelled, hash).toEqual([]);
    }
    await context.close();
  });

  it("shows a key for Globex nothing of Acme", async () => {
    const { context, page, sent } = await newPage();
    await signIn(page, ACCESS.globex);
    await page.locator(`a[href="#/events/${globexIds[0]}"]`).waitFor();
    expect(await page.locator("table.events tbody tr").count()).toBe(1);
    const options = await page.getByLabel("Workspace").locator("option").allTextContents();
    expect(options).toEqual(["Globex (production)"]);
    await page.screenshot({ path: join(SHOTS, "9-isolation-globex.png"), fullPage: true });

    await page.evaluate((id) => (location.hash = `#/events/${id}`), acmeFailed[0]!);
    await page.getByRole("alert").filter({ hasText: "not found" }).waitFor();
    await page.getByRole("link", { name: "Connections" }).click();
    await expect.poll(() => page.locator("table.connections tbody tr").count()).toBe(1);
    expect((await page.locator("body").innerText()).toLowerCase()).not.toContain("acme");
    await expectNoCredential(page, sent);
    await context.close();
  });
});

import { runAction, type RateLimitFeedback } from "@meshwork/destination-kit";
import { http, HttpResponse } from "msw";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createRateLimitHeaderReader, msUntilMidnight } from "./classify.js";
import contact from "./__fixtures__/contact.json";
import { API, PRIVATE_APP_TOKEN, run, useMockServer } from "./__fixtures__/harness.js";
import daily from "./__fixtures__/rate-limit-daily.json";
import tenSecondly from "./__fixtures__/rate-limit-ten-secondly.json";
import { hubspot } from "./index.js";

const { server } = useMockServer();
const metadata = { properties: { lifecyclestage: "lead" } };
const answer429 = (body: Record<string, string>, headers: Record<string, string> = {}) =>
  server.use(http.patch(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(body, { status: 429, headers })));

describe("429 policies", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-11-26T18:30:00.000Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("TEN_SECONDLY_ROLLING retries within seconds: the window length without Retry-After", async () => {
    answer429(tenSecondly, { "x-hubspot-ratelimit-interval-milliseconds": "10000", "x-hubspot-ratelimit-remaining": "0" });
    const result = await run("sync_contact", { metadata });
    expect(result).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 10_000, status: 429 });
    expect(result.message).toContain("TEN_SECONDLY_ROLLING");
  });

  it("TEN_SECONDLY_ROLLING honours Retry-After when HubSpot sends one", async () => {
    answer429(tenSecondly, { "retry-after": "2" });
    expect(await run("sync_contact", { metadata })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 2000 });
  });

  it("TEN_SECONDLY_ROLLING without any header waits at most 10 s", async () => {
    answer429(tenSecondly);
    expect(await run("sync_contact", { metadata })).toMatchObject({ retryAfterMs: 10_000 });
  });

  it("DAILY waits until the next midnight UTC by default", async () => {
    answer429(daily);
    const result = await run("sync_contact", { metadata });
    expect(result).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 5.5 * 3600_000 });
    expect(result.message).toContain("midnight UTC");
  });

  it("DAILY waits until midnight in the portal's time zone when configured", async () => {
    answer429(daily);
    const result = await run("sync_contact", { metadata, destination: hubspot({ portalTimeZone: "America/New_York" }) });
    // 18:30Z is 13:30 in New York (EST): 10.5 hours to midnight there.
    expect(result).toMatchObject({ outcome: "rate_limited", retryAfterMs: 10.5 * 3600_000 });
  });

  it("a 429 without a policy falls back to the kit's table", async () => {
    answer429({ status: "error", message: "slow down" }, { "retry-after": "7" });
    expect(await run("sync_contact", { metadata })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 7000 });
  });
});

describe("HubSpot's own 4xx that are not final", () => {
  it("423 Locked waits 2 s", async () => {
    server.use(
      http.patch(`${API}/crm/v3/objects/contacts/:email`, () =>
        HttpResponse.json({ status: "error", message: "Locked", correlationId: "c1", category: "LOCKED" }, { status: 423 }),
      ),
    );
    expect(await run("sync_contact", { metadata })).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 2000 });
  });

  it("477 (portal migration) is retried", async () => {
    server.use(
      http.patch(`${API}/crm/v3/objects/contacts/:email`, () =>
        HttpResponse.json({ status: "error", message: "Migration in progress", correlationId: "c2" }, { status: 477 }),
      ),
    );
    expect(await run("sync_contact", { metadata })).toMatchObject({ outcome: "rejected_server_error", retryable: true, status: 477 });
  });
});

describe("rate-limit headers", () => {
  it("feed the engine the rolling window's remaining budget", async () => {
    server.use(
      http.patch(`${API}/crm/v3/objects/contacts/:email`, () =>
        HttpResponse.json(contact, {
          headers: {
            "X-HubSpot-RateLimit-Max": "100",
            "X-HubSpot-RateLimit-Remaining": "42",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": "250000",
            "X-HubSpot-RateLimit-Daily-Remaining": "249000",
          },
        }),
      ),
    );
    const feedback: RateLimitFeedback[] = [];
    const before = Date.now();
    const result = await runAction({
      destination: hubspot(),
      action: "sync_contact",
      credentials: { accessToken: PRIVATE_APP_TOKEN },
      metadata,
      event: { id: "evt_rl", event: "page.completed", payload: { email: "alex@northstar.io" }, workspace: "w", created_at: "2026-11-26T00:00:00Z" },
      idempotencyKey: "del_rl",
      connection: { id: "c", workspace: "w", type: "hubspot", mode: "live" },
      onRateLimit: (f) => feedback.push(f),
    });
    expect(result.outcome).toBe("delivered");
    expect(feedback).toEqual([{ limit: 100, remaining: 42, resetAt: expect.any(Number) }]);
    expect(feedback[0]!.resetAt! - before).toBeGreaterThanOrEqual(10_000);
  });

  it("report the daily budget once it is spent, resetting at midnight", () => {
    const reader = createRateLimitHeaderReader("UTC");
    const feedback = reader(
      new Headers({ "x-hubspot-ratelimit-remaining": "80", "x-hubspot-ratelimit-daily": "250000", "x-hubspot-ratelimit-daily-remaining": "0" }),
    );
    expect(feedback).toMatchObject({ limit: 250000, remaining: 0 });
    expect(new Date(feedback!.resetAt!).toISOString()).toMatch(/T00:00:00\.000Z$/);
    expect(reader(new Headers())).toBeUndefined();
  });
});

describe("msUntilMidnight", () => {
  it("counts to the next local midnight", () => {
    const at = Date.parse("2026-11-26T23:59:59.500Z");
    expect(msUntilMidnight(at, "UTC")).toBe(500);
    expect(msUntilMidnight(Date.parse("2026-11-26T00:00:00.000Z"), "UTC")).toBe(86_400_000);
    expect(msUntilMidnight(Date.parse("2026-07-01T12:00:00.000Z"), "Europe/Berlin")).toBe(10 * 3600_000);
  });

  it("rejects a zone the runtime does not know", () => {
    expect(() => hubspot({ portalTimeZone: "Mars/Olympus" })).toThrow(/portalTimeZone.*not an IANA time zone/);
  });
});

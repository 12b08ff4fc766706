import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import invalid from "../__fixtures__/error-parameter-invalid.json";
import userNotFound from "../__fixtures__/error-user-not-found.json";
import { captureRequest, runTestAction, type SentRequest } from "@meshwork/destination-kit/testing";
import { intercom } from "../index.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const token = "dG9rOmludGVyY29tLWxpdmUtdG9rZW4=";
const credentials = { accessToken: token };
const createdAt = Date.parse("2026-11-26T12:00:00.000Z") / 1000;

/** Intercom's documented answer: 202 with an empty body. */
function accepted() {
  const sent: SentRequest[] = [];
  server.use(
    http.post("https://api.intercom.io/events", async ({ request }) => {
      sent.push(await captureRequest(request));
      return new HttpResponse(null, { status: 202 });
    }),
  );
  return sent;
}

describe("track_event", () => {
  it("posts the event by email at the event's time; 202 with an empty body is delivered", async () => {
    const sent = accepted();
    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: { event_name: "completed-step" } });
    expect(result).toMatchObject({ outcome: "delivered", status: 202 });
    expect(result.message).toBe('event "completed-step" tracked for email alex@northstar.io with 1 metadata key');
    expect(sent).toEqual([
      {
        method: "POST",
        url: "https://api.intercom.io/events",
        headers: expect.objectContaining({
          authorization: `Bearer ${token}`,
          accept: "application/json",
          "content-type": "application/json",
          "intercom-version": "2.15",
        }),
        body: { event_name: "completed-step", created_at: createdAt, email: "alex@northstar.io", metadata: { sequence_step: 3 } },
      },
    ]);
  });

  it("names the event after the Meshwork event when the rule gives no event_name", async () => {
    const sent = accepted();
    await runTestAction(intercom(), "track_event", { credentials, metadata: {} });
    expect(sent[0]?.body).toMatchObject({ event_name: "page.completed" });
  });

  it("identifies by user_id when the payload has no email", async () => {
    const sent = accepted();
    await runTestAction(intercom(), "track_event", { credentials, metadata: {}, payload: { user_id: "usr_5012", plan: "pro" } });
    expect(sent[0]?.body).toEqual({ event_name: "page.completed", created_at: createdAt, user_id: "usr_5012", metadata: { plan: "pro" } });
  });

  it("flattens nested metadata with `_`, stringifies arrays, keeps rich links, cuts to 10 keys with a warning", async () => {
    const sent = accepted();
    const payload = {
      email: "alex@northstar.io",
      step: 3,
      done: true,
      plan: { name: "pro", seats: 12, billing: { cycle: "annual" } },
      features: ["sso", "audit"],
      article: { url: "https://docs.example.com/setup", value: "Setup guide" },
      price: { amount: 34999, currency: "eur" },
      source: "web",
      nothing: null,
      k1: "a",
      k2: "b",
      k3: "c",
    };
    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: { event_name: "upgraded-plan" }, payload });
    expect(result.outcome).toBe("delivered");
    expect((sent[0]?.body as { metadata: object }).metadata).toEqual({
      step: 3,
      done: true,
      plan_name: "pro",
      plan_seats: 12,
      plan_billing_cycle: "annual",
      features: '["sso","audit"]',
      article: { url: "https://docs.example.com/setup", value: "Setup guide" },
      price: { amount: 34999, currency: "eur" },
      source: "web",
      k1: "a",
    });
    expect(result.notes).toEqual([
      "metadata keys without a value were left out: nothing",
      "warning: event metadata has 12 keys and Intercom keeps 10; not sent: k2, k3 (choose the fields with the rule's event_metadata or a field mapping)",
    ]);
  });

  it("uses the rule's event_metadata (templates rendered) instead of the payload when given", async () => {
    const sent = accepted();
    await runTestAction(intercom(), "track_event", {
      credentials,
      metadata: { event_metadata: { step: "{{sequence_step}}", label: "step {{sequence_step}} of 5" } },
    });
    expect((sent[0]?.body as { metadata: object }).metadata).toEqual({ step: 3, label: "step 3 of 5" });
  });

  it("uses the mapped fields when the rule has a mapping", async () => {
    const sent = accepted();
    await runTestAction(intercom(), "track_event", {
      credentials,
      metadata: {},
      mapped: { email: "alex@northstar.io", onboarding_step: 3 },
    });
    expect(sent[0]?.body).toMatchObject({ email: "alex@northstar.io", metadata: { onboarding_step: 3 } });
  });

  it("no such user (404) → rejected_client_error telling the user what to do", async () => {
    server.use(http.post("https://api.intercom.io/events", () => HttpResponse.json(userNotFound, { status: 404 })));
    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: {} });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 404 });
    expect(result.message).toMatch(/no user with email alex@northstar\.io .*create the contact first/);
  });

  it("400 → rejected_client_error", async () => {
    server.use(http.post("https://api.intercom.io/events", () => HttpResponse.json(invalid, { status: 400 })));
    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: {} });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toContain("Invalid value for created_at");
  });

  it("a 2xx with an HTML body is not delivered", async () => {
    server.use(http.post("https://api.intercom.io/events", () => HttpResponse.html("<html>login</html>")));
    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: {} });
    expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true });
  });

  it("neither email nor user_id → mapping_error", async () => {
    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: {}, payload: { step: 1 } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.exchanges).toEqual([]);
  });
});

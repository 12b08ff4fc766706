import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import conflict from "../__fixtures__/contact-conflict.json";
import contact from "../__fixtures__/contact.json";
import empty from "../__fixtures__/contacts-search-empty.json";
import leads from "../__fixtures__/contacts-search-leads.json";
import userAndLeads from "../__fixtures__/contacts-search-user-and-leads.json";
import found from "../__fixtures__/contacts-search.json";
import tokenRevoked from "../__fixtures__/error-token-revoked.json";
import unauthorized from "../__fixtures__/error-unauthorized.json";
import tagNotFound from "../__fixtures__/error-tag-not-found.json";
import { captureRequest, runTestAction, type SentRequest } from "@meshwork/destination-kit/testing";
import tag from "../__fixtures__/tag.json";
import { DEFAULT_INTERCOM_VERSION, intercom } from "../index.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const token = "dG9rOmludGVyY29tLWxpdmUtdG9rZW4=";
const credentials = { accessToken: token };
const contactId = "6762f0cd1bb69f9f2193bb7c";

/** Answers search with each body in turn (the last one repeats), records everything. */
function intercomApi(base: string, searches: unknown[], extra: Parameters<typeof server.use> = []) {
  const sent: SentRequest[] = [];
  let search = 0;
  server.use(
    ...extra,
    http.post(`${base}/contacts/search`, async ({ request }) => {
      sent.push(await captureRequest(request));
      return HttpResponse.json(searches[Math.min(search++, searches.length - 1)] as object);
    }),
    http.post(`${base}/contacts/:id/tags`, async ({ request }) => {
      sent.push(await captureRequest(request));
      return HttpResponse.json(tag);
    }),
  );
  return sent;
}

describe("add_tag", () => {
  it("searches the contact by email and tags it, with Intercom's headers", async () => {
    const sent = intercomApi("https://api.intercom.io", [found]);
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });

    expect(result).toMatchObject({ outcome: "delivered", status: 200 });
    expect(result.message).toBe(`tag "Onboarded" (7522907) added to contact ${contactId} (alex@northstar.io)`);
    expect(sent).toEqual([
      {
        method: "POST",
        url: "https://api.intercom.io/contacts/search",
        headers: expect.objectContaining({
          authorization: `Bearer ${token}`,
          accept: "application/json",
          "content-type": "application/json",
          "intercom-version": DEFAULT_INTERCOM_VERSION,
        }),
        body: { query: { field: "email", operator: "=", value: "alex@northstar.io" } },
      },
      {
        method: "POST",
        url: `https://api.intercom.io/contacts/${contactId}/tags`,
        headers: expect.objectContaining({ authorization: `Bearer ${token}`, "intercom-version": DEFAULT_INTERCOM_VERSION }),
        body: { id: "7522907" },
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(token);
  });

  it("sends Intercom-Version 2.15 by default, or the version given to the factory", async () => {
    expect(DEFAULT_INTERCOM_VERSION).toBe("2.15");
    const sent = intercomApi("https://api.intercom.io", [found]);
    await runTestAction(intercom({ version: "2.14" }), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(sent.map((request) => request.headers["intercom-version"])).toEqual(["2.14", "2.14"]);
  });

  it.each([
    ["us", "https://api.intercom.io"],
    ["eu", "https://api.eu.intercom.io"],
    ["au", "https://api.au.intercom.io"],
  ] as const)("region %s → %s", async (region, base) => {
    const sent = intercomApi(base, [found]);
    const result = await runTestAction(intercom(), "add_tag", { credentials: { ...credentials, region }, metadata: { id: "7522907" } });
    expect(result.outcome).toBe("delivered");
    expect(sent.map((request) => request.url)).toEqual([`${base}/contacts/search`, `${base}/contacts/${contactId}/tags`]);
  });

  it("a factory baseUrl overrides the region", async () => {
    const sent = intercomApi("https://intercom-proxy.internal", [found]);
    await runTestAction(intercom({ baseUrl: "https://intercom-proxy.internal" }), "add_tag", {
      credentials: { ...credentials, region: "eu" },
      metadata: { id: "7522907" },
    });
    expect(sent[0]?.url).toBe("https://intercom-proxy.internal/contacts/search");
  });

  it("creates the contact as a user when the search finds none", async () => {
    const creates: SentRequest[] = [];
    const sent = intercomApi("https://api.intercom.io", [empty], [
      http.post("https://api.intercom.io/contacts", async ({ request }) => {
        creates.push(await captureRequest(request));
        return HttpResponse.json(contact);
      }),
    ]);
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(result.outcome).toBe("delivered");
    expect(result.message).toContain("added to new contact");
    expect(creates).toEqual([
      expect.objectContaining({ method: "POST", url: "https://api.intercom.io/contacts", body: { role: "user", email: "alex@northstar.io" } }),
    ]);
    expect(sent.at(-1)?.url).toBe(`https://api.intercom.io/contacts/${contactId}/tags`);
  });

  it("with several matches, prefers the user over leads", async () => {
    const sent = intercomApi("https://api.intercom.io", [userAndLeads]);
    await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(sent[1]?.url).toBe(`https://api.intercom.io/contacts/${contactId}/tags`);
  });

  it("with only leads, takes the most recently created", async () => {
    const sent = intercomApi("https://api.intercom.io", [leads]);
    await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(sent[1]?.url).toBe("https://api.intercom.io/contacts/6762f0d01bb69f9f2193bb80/tags");
  });

  it("409 on create (search lagging) → searches again and tags the contact it finds", async () => {
    const sent = intercomApi("https://api.intercom.io", [empty, found], [
      http.post("https://api.intercom.io/contacts", () => HttpResponse.json(conflict, { status: 409 })),
    ]);
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "delivered" });
    expect(result.exchanges.map((e) => `${e.request.method} ${e.request.url} → ${e.response?.status}`)).toEqual([
      "POST https://api.intercom.io/contacts/search → 200",
      "POST https://api.intercom.io/contacts → 409",
      "POST https://api.intercom.io/contacts/search → 200",
      `POST https://api.intercom.io/contacts/${contactId}/tags → 200`,
    ]);
    expect(sent).toHaveLength(3);
  });

  it("409 on create and still not searchable → retryable, saying search has not caught up", async () => {
    intercomApi("https://api.intercom.io", [empty], [
      http.post("https://api.intercom.io/contacts", () => HttpResponse.json(conflict, { status: 409 })),
    ]);
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true, status: 409 });
    expect(result.message).toMatch(/search has not caught up/);
    expect(result.exchanges).toHaveLength(3);
  });

  it.each([
    ["unauthorized", unauthorized],
    ["token_revoked", tokenRevoked],
  ])("401 %s → auth_failed with what to do", async (code, body) => {
    server.use(http.post("https://api.intercom.io/contacts/search", () => HttpResponse.json(body, { status: 401 })));
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false, status: 401 });
    expect(result.message).toContain(code);
    expect(result.message).toMatch(/update the connection's accessToken/);
  });

  it("404 on the tag request → rejected_client_error telling the user to check the tag id", async () => {
    intercomApi("https://api.intercom.io", [found]);
    server.use(http.post("https://api.intercom.io/contacts/:id/tags", () => HttpResponse.json(tagNotFound, { status: 404 })));
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "999" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 404 });
    expect(result.message).toMatch(/tag 999 \(tag_not_found: Tag not found \(request [\w-]+\)\): check that the rule's metadata\.id/);
  });

  it.each([400, 403, 404, 422])("%i on the tag request → rejected_client_error", async (status) => {
    intercomApi("https://api.intercom.io", [found]);
    server.use(http.post("https://api.intercom.io/contacts/:id/tags", () => HttpResponse.json(tagNotFound, { status })));
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "999" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status });
  });

  it.each([
    [408, "timeout"],
    [500, "rejected_server_error"],
    [503, "rejected_server_error"],
  ])("%i → retried (%s)", async (status, outcome) => {
    server.use(http.post("https://api.intercom.io/contacts/search", () => HttpResponse.json({}, { status })));
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome, retryable: true });
  });

  it("429 → rate_limited, honouring Retry-After; X-RateLimit headers are reported", async () => {
    server.use(
      http.post("https://api.intercom.io/contacts/search", () =>
        HttpResponse.json(
          { type: "error.list", errors: [{ code: "rate_limit_exceeded", message: "Exceeded rate limit" }] },
          { status: 429, headers: { "retry-after": "4", "x-ratelimit-limit": "1666", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1795780810" } },
        ),
      ),
    );
    const onRateLimit = vi.fn();
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" }, onRateLimit });
    expect(result).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 4000 });
    expect(onRateLimit).toHaveBeenCalledWith({ limit: 1666, remaining: 0, resetAt: 1795780810_000 });
  });

  it("a payload without email → mapping_error, nothing sent", async () => {
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" }, payload: { user_id: "usr_1" } });
    expect(result).toMatchObject({ outcome: "mapping_error", retryable: false });
    expect(result.message).toMatch(/no email/);
    expect(result.exchanges).toEqual([]);
  });

  it("finds the contact by the mapped email when the rule maps one", async () => {
    const sent = intercomApi("https://api.intercom.io", [found]);
    await runTestAction(intercom(), "add_tag", {
      credentials,
      metadata: { id: "{{tag_id}}" },
      payload: { email: "other@northstar.io", tag_id: 7522907, account: { owner_email: "alex@northstar.io" } },
      mapped: { email: "alex@northstar.io" },
    });
    expect(sent.map((request) => request.body)).toEqual([
      { query: { field: "email", operator: "=", value: "alex@northstar.io" } },
      { id: "7522907" },
    ]);
  });

  it("a 200 that is not JSON (an HTML page) is not counted as delivered", async () => {
    server.use(
      http.post("https://api.intercom.io/contacts/search", () => HttpResponse.html("<html><body>Sign in</body></html>")),
    );
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true });
  });
});

import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import sync from "../__fixtures__/contact-sync.json";
import error403 from "../__fixtures__/error-403.json";
import error422 from "../__fixtures__/error-422.json";
import { API, API_KEY, loginPage, run, useMockServer } from "../__fixtures__/harness.js";

const { server, sent } = useMockServer();
const answerSync = (response: Response | (() => Response)) =>
  server.use(http.post(`${API}/contact/sync`, typeof response === "function" ? response : () => response));

describe("sync_contact", () => {
  it("POSTs contact/sync with the names, phone and field values, authenticated by Api-Token", async () => {
    answerSync(() => HttpResponse.json(sync, { status: 201 }));
    const result = await run("sync_contact", {
      metadata: { fields: { "5": "pro", "6": "{{sequence_step}}" } },
      payload: { email: "alex@northstar.io", first_name: "Alex", lastName: "Rivera", phone: "+1 555 0100", sequence_step: 3 },
    });
    expect(result).toMatchObject({ outcome: "delivered", status: 201 });
    expect(result.message).toBe("contact 113 synced (firstName, lastName, phone, 2 custom field(s))");
    const [request, ...rest] = await sent();
    expect(rest).toEqual([]);
    expect(request).toMatchObject({
      method: "POST",
      url: `${API}/contact/sync`,
      headers: { "api-token": API_KEY, "content-type": "application/json", accept: "application/json" },
    });
    expect(JSON.parse(request!.text)).toEqual({
      contact: {
        email: "alex@northstar.io",
        firstName: "Alex",
        lastName: "Rivera",
        phone: "+1 555 0100",
        fieldValues: [
          { field: "5", value: "pro" },
          { field: "6", value: "3" },
        ],
      },
    });
    expect(result.exchanges[0]!.request.headers["api-token"]).toBe("[REDACTED]");
    expect(JSON.stringify(result)).not.toContain(API_KEY);
  });

  it("takes email, names and custom fields from the rule mapping, and notes fields it cannot send", async () => {
    answerSync(() => HttpResponse.json(sync));
    const result = await run("sync_contact", {
      metadata: { fields: { "5": "free" } },
      mapped: { email: "alex+trial@northstar.io", firstName: "Alexandra", "fieldValues.5": "pro", fieldValues: { "7": 42 }, plan: "pro" },
    });
    expect(result.outcome).toBe("delivered");
    expect(result.notes).toEqual([expect.stringContaining('mapped field "plan" ignored')]);
    const [request] = await sent();
    expect(JSON.parse(request!.text)).toEqual({
      contact: {
        email: "alex+trial@northstar.io",
        firstName: "Alexandra",
        fieldValues: [
          { field: "5", value: "pro" },
          { field: "7", value: "42" },
        ],
      },
    });
  });

  it("accepts an api_url with the /api/3 suffix", async () => {
    answerSync(() => HttpResponse.json(sync));
    const result = await run("sync_contact", {
      metadata: {},
      credentials: { api_url: "https://northstar.api-us1.com/api/3/", api_key: API_KEY },
    });
    expect(result.outcome).toBe("delivered");
    expect((await sent())[0]!.url).toBe(`${API}/contact/sync`);
  });

  it("refuses an api_url that is not https, before sending the key anywhere", async () => {
    const result = await run("sync_contact", { metadata: {}, credentials: { api_url: "http://northstar.api-us1.com", api_key: API_KEY } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toMatch(/credentials are invalid at api_url: must be an https URL/);
    expect(await sent()).toEqual([]);
  });

  it("a 200 HTML login page (a bad key) is auth_failed, never delivered", async () => {
    answerSync(() => new HttpResponse(loginPage, { status: 200, headers: { "content-type": "text/html; charset=utf-8" } }));
    const result = await run("sync_contact", { metadata: {} });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false, status: 200 });
    expect(result.message).toMatch(/HTML page.*invalid api_key or a wrong api_url/);
  });

  it("403 is auth_failed", async () => {
    answerSync(() => HttpResponse.json(error403, { status: 403 }));
    const result = await run("sync_contact", { metadata: {} });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false, status: 403 });
    expect(result.message).toContain("You are not authorized to access this resource");
  });

  it("402 is a permanent payment issue", async () => {
    answerSync(() => HttpResponse.json({ message: "Payment Required" }, { status: 402 }));
    const result = await run("sync_contact", { metadata: {} });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 402 });
    expect(result.message).toMatch(/billing issue/);
  });

  it("422 is permanent and carries errors[0].title, detail and pointer", async () => {
    answerSync(() => HttpResponse.json(error422, { status: 422 }));
    const result = await run("sync_contact", { metadata: {} });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 422 });
    expect(result.message).toBe(
      "ActiveCampaign rejected the request (422): Contact Email Address is not valid. (at /data/attributes/email)",
    );
  });

  it("429 honours Retry-After, and waits the one-second window without it", async () => {
    answerSync(() => HttpResponse.json({ message: "Too Many Requests" }, { status: 429, headers: { "retry-after": "3" } }));
    expect(await run("sync_contact", { metadata: {} })).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 3000 });
    answerSync(() => HttpResponse.json({ message: "Too Many Requests" }, { status: 429 }));
    expect(await run("sync_contact", { metadata: {} })).toMatchObject({ outcome: "rate_limited", retryAfterMs: 1000 });
  });

  it("rejects custom fields that are not numeric field ids", async () => {
    const result = await run("sync_contact", { metadata: { fields: { PLAN: "pro" } } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.message).toMatch(/numeric field id/);
  });
});

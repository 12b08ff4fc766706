import { describe, expect, it } from "vitest";
import { testEvent, runTestAction } from "@meshwork/destination-kit/testing";
import { createIntercomSimulator, intercom } from "./index.js";

const credentials = { accessToken: "dG9rOnNhbmRib3g=" };

async function call(simulator: ReturnType<typeof createIntercomSimulator>, path: string, init: RequestInit = {}) {
  const response = await simulator.fetch(`https://api.intercom.io${path}`, {
    method: "POST",
    ...init,
    headers: { authorization: "Bearer dG9rOnNhbmRib3g=", accept: "application/json", "content-type": "application/json", ...init.headers },
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

describe("createIntercomSimulator", () => {
  it("answers 406 without Accept: application/json", async () => {
    const simulator = createIntercomSimulator();
    const response = await call(simulator, "/contacts/search", { headers: { accept: "text/html" }, body: "{}" });
    expect(response).toMatchObject({ status: 406, body: { type: "error.list", errors: [{ code: "not_acceptable" }] } });
  });

  it("checks tokens: unknown → 401 unauthorized, revoked → 401 token_revoked", async () => {
    const simulator = createIntercomSimulator({ accessTokens: ["dG9rOnNhbmRib3g="] });
    expect((await call(simulator, "/events", { headers: { authorization: "Bearer nope" } })).body).toMatchObject({
      type: "error.list",
      request_id: expect.any(String),
      errors: [{ code: "unauthorized", message: "Access Token Invalid" }],
    });
    simulator.revokeToken("dG9rOnNhbmRib3g=");
    const revoked = await call(simulator, "/events", { body: "{}" });
    expect(revoked).toMatchObject({ status: 401, body: { errors: [{ code: "token_revoked" }] } });

    const result = await runTestAction(intercom(), "track_event", { credentials, metadata: {}, fetch: simulator.fetch });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false });
  });

  it("answers search with the documented list shape", async () => {
    const simulator = createIntercomSimulator({ contacts: [{ email: "alex@northstar.io", created_at: 1734537421 }] });
    const response = await call(simulator, "/contacts/search", {
      body: JSON.stringify({ query: { field: "email", operator: "=", value: "ALEX@northstar.io" } }),
    });
    expect(response.body).toMatchObject({
      type: "list",
      total_count: 1,
      data: [{ type: "contact", role: "user", email: "alex@northstar.io", created_at: 1734537421 }],
      pages: { type: "pages", page: 1 },
    });
  });

  it("models search lag: a contact created elsewhere makes the adapter hit 409, search again, and tag it", async () => {
    const simulator = createIntercomSimulator({ tags: [{ id: "7", name: "Onboarded" }] });
    simulator.addContact({ email: "alex@northstar.io", hiddenForSearches: 1 });
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7" }, fetch: simulator.fetch });
    expect(result.outcome).toBe("delivered");
    expect(simulator.requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      "POST /contacts/search",
      "POST /contacts",
      "POST /contacts/search",
      expect.stringMatching(/^POST \/contacts\/\w+\/tags$/),
    ]);
    expect(simulator.snapshot().contacts).toEqual([expect.objectContaining({ email: "alex@northstar.io", tags: ["Onboarded"] })]);
  });

  it("a contact still lagging after the second search → retryable, then delivered on the next attempt", async () => {
    const simulator = createIntercomSimulator({ tags: [{ id: "7", name: "Onboarded" }] });
    simulator.addContact({ email: "alex@northstar.io", hiddenForSearches: 2 });
    const first = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7" }, fetch: simulator.fetch });
    expect(first).toMatchObject({ outcome: "rejected_server_error", retryable: true });
    const second = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7" }, fetch: simulator.fetch, attempt: 2 });
    expect(second.outcome).toBe("delivered");
    expect(simulator.snapshot().contacts).toHaveLength(1);
  });

  it("searchLag applies to contacts created through the API", async () => {
    const simulator = createIntercomSimulator({ searchLag: 1 });
    await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7" }, fetch: simulator.fetch });
    const again = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "8" }, fetch: simulator.fetch });
    // The second delivery does not see the new contact at first, gets the 409, and finds it on the second search.
    expect(again.outcome).toBe("delivered");
    expect(again.exchanges.map((e) => e.response?.status)).toEqual([200, 409, 200, 200]);
    expect(simulator.snapshot().contacts).toEqual([expect.objectContaining({ tags: ["Tag 7", "Tag 8"] })]);
  });

  it("strictTags answers 404 tag_not_found for unknown tag ids", async () => {
    const simulator = createIntercomSimulator({ strictTags: true, contacts: [{ email: "alex@northstar.io" }] });
    const result = await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "404404" }, fetch: simulator.fetch });
    expect(result).toMatchObject({ outcome: "rejected_client_error", status: 404 });
    expect(result.message).toContain("Tag not found");
  });

  it("data events: 202 with an empty body, metadata kept to 10 keys, unknown users 404", async () => {
    const simulator = createIntercomSimulator({ contacts: [{ email: "alex@northstar.io", external_id: "usr_5012" }] });
    const metadata = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i]));
    const accepted = await simulator.fetch("https://api.intercom.io/events", {
      method: "POST",
      headers: { authorization: "Bearer t0ken", accept: "application/json" },
      body: JSON.stringify({ event_name: "x", created_at: 1, user_id: "usr_5012", metadata }),
    });
    expect(accepted.status).toBe(202);
    expect(await accepted.text()).toBe("");
    expect(Object.keys(simulator.snapshot().events[0]?.metadata ?? {})).toHaveLength(10);

    const result = await runTestAction(intercom(), "track_event", {
      credentials,
      metadata: {},
      payload: { email: "nobody@northstar.io" },
      fetch: simulator.fetch,
    });
    expect(result).toMatchObject({ outcome: "rejected_client_error", status: 404 });
  });

  it("snapshot lists contacts with tag names and the events tracked", async () => {
    const simulator = createIntercomSimulator({ tags: [{ id: "7", name: "Onboarded" }], now: () => 1_795_780_800_000 });
    await runTestAction(intercom(), "add_tag", { credentials, metadata: { id: "7" }, fetch: simulator.fetch });
    await runTestAction(intercom(), "track_event", { credentials, metadata: { event_name: "completed-step" }, fetch: simulator.fetch });
    expect(simulator.snapshot()).toEqual({
      contacts: [
        { id: expect.any(String), role: "user", email: "alex@northstar.io", external_id: null, created_at: 1_795_780_800, tags: ["Onboarded"] },
      ],
      tags: [{ id: "7", name: "Onboarded" }],
      events: [
        {
          event_name: "completed-step",
          created_at: Date.parse(testEvent.created_at) / 1000,
          contact_id: simulator.snapshot().contacts[0]!.id,
          email: "alex@northstar.io",
          metadata: { sequence_step: 3 },
        },
      ],
    });
  });
});

import { describe, expect, it } from "vitest";
import { createHubspotSimulator } from "./index.js";

const API = "https://api.hubapi.com/crm/v3";
const auth = { authorization: "Bearer pat-na1-test", "content-type": "application/json" };

function call(sim: ReturnType<typeof createHubspotSimulator>, method: string, path: string, body?: unknown, headers = auth) {
  return sim.fetch(path.startsWith("http") ? path : `${API}${path}`, {
    method,
    headers,
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

describe("HubSpot simulator", () => {
  it("creates contacts with auto-increment ids and finds them by email with idProperty", async () => {
    const sim = createHubspotSimulator();
    const created = await call(sim, "POST", "/objects/contacts", { properties: { email: "alex@northstar.io", firstname: "Alex" } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const second = await call(sim, "POST", "/objects/contacts", { properties: { email: "sam@northstar.io" } });
    expect(((await second.json()) as { id: string }).id).toBe(String(Number(id) + 1));

    const found = await call(sim, "GET", "/objects/contacts/ALEX%40northstar.io?idProperty=email");
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id, properties: { email: "alex@northstar.io", firstname: "Alex", hs_object_id: id } });
    expect((await call(sim, "GET", `/objects/contacts/${id}`)).status).toBe(200);

    const missing = await call(sim, "GET", "/objects/contacts/nobody%40northstar.io?idProperty=email");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ status: "error", category: "OBJECT_NOT_FOUND", correlationId: expect.any(String) });
  });

  it("finds a contact by its new email after a PATCH changes it, and no longer by the old one", async () => {
    const sim = createHubspotSimulator();
    const id = sim.seedContact({ email: "alex@northstar.io" });
    expect((await call(sim, "PATCH", `/objects/contacts/${id}`, { properties: { email: "Alex.Rivera@northstar.io" } })).status).toBe(200);
    expect((await call(sim, "GET", "/objects/contacts/alex.rivera%40northstar.io?idProperty=email")).status).toBe(200);
    expect((await call(sim, "GET", "/objects/contacts/alex%40northstar.io?idProperty=email")).status).toBe(404);
    const reuse = await call(sim, "POST", "/objects/contacts", { properties: { email: "alex@northstar.io" } });
    expect(reuse.status).toBe(201);
  });

  it("answers a duplicate create with 409 naming the existing id", async () => {
    const sim = createHubspotSimulator();
    const id = sim.seedContact({ email: "alex@northstar.io" });
    const response = await call(sim, "POST", "/objects/contacts", { properties: { email: "alex@northstar.io" } });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ category: "CONFLICT", message: `Contact already exists. Existing ID: ${id}` });
  });

  it("validates property values against their definitions, seedable as enumerations", async () => {
    const sim = createHubspotSimulator();
    sim.seedContact({ email: "alex@northstar.io" });
    sim.defineProperty({
      name: "onboarding_step",
      type: "enumeration",
      options: ["1", "2", "3", "4", "5"].map((value) => ({ label: `Step ${value}`, value })),
    });
    const bad = await call(sim, "PATCH", "/objects/contacts/alex%40northstar.io?idProperty=email", {
      properties: { onboarding_step: "7", lifecyclestage: "lead", nope: "x" },
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { category: string; message: string };
    expect(body.category).toBe("VALIDATION_ERROR");
    const errors = JSON.parse(body.message.slice(body.message.indexOf("["))) as Array<{ error: string; name: string }>;
    expect(errors.map((e) => [e.name, e.error])).toEqual([
      ["onboarding_step", "INVALID_OPTION"],
      ["nope", "PROPERTY_DOESNT_EXIST"],
    ]);
    const good = await call(sim, "PATCH", "/objects/contacts/alex%40northstar.io?idProperty=email", {
      properties: { onboarding_step: "3", lifecyclestage: "customer" },
    });
    expect(good.status).toBe(200);
    expect(sim.snapshot().contacts[0]!.properties).toEqual({ email: "alex@northstar.io", onboarding_step: "3", lifecyclestage: "customer" });
    const definition = await call(sim, "GET", "/properties/contacts/lifecyclestage");
    expect(await definition.json()).toMatchObject({ name: "lifecyclestage", type: "enumeration", options: expect.arrayContaining([{ label: "lead", value: "lead" }]) });
  });

  it("models MANUAL list memberships with HubSpot's response fields", async () => {
    const sim = createHubspotSimulator();
    const alex = sim.seedContact({ email: "alex@northstar.io" });
    const listId = sim.seedList({ name: "Onboarding" });
    const add = await call(sim, "PUT", `/lists/${listId}/memberships/add`, [alex, "999"]);
    expect(await add.json()).toEqual({ recordIdsMissing: ["999"], recordIdsRemoved: [], recordsIdsAdded: [alex] });
    const again = await call(sim, "PUT", `/lists/${listId}/memberships/add`, [alex]);
    expect(await again.json()).toEqual({ recordIdsMissing: [], recordIdsRemoved: [], recordsIdsAdded: [] });
    expect(sim.snapshot().lists).toEqual([{ listId, name: "Onboarding", processingType: "MANUAL", members: ["alex@northstar.io"] }]);
    const remove = await call(sim, "PUT", `/lists/${listId}/memberships/remove`, [alex]);
    expect(await remove.json()).toEqual({ recordIdsMissing: [], recordIdsRemoved: [alex], recordsIdsAdded: [] });

    const dynamic = sim.seedList({ name: "Everyone", processingType: "DYNAMIC" });
    expect((await call(sim, "PUT", `/lists/${dynamic}/memberships/add`, [alex])).status).toBe(400);
    expect((await call(sim, "PUT", "/lists/404/memberships/add", [alex])).status).toBe(404);
  });

  it("checks tokens: unknown and `invalid…` tokens get 401 INVALID_AUTHENTICATION", async () => {
    const sim = createHubspotSimulator();
    const invalid = await call(sim, "GET", "/objects/contacts/1", undefined, { authorization: "Bearer invalid-token", "content-type": "application/json" });
    expect(invalid.status).toBe(401);
    expect(await invalid.json()).toMatchObject({ status: "error", category: "INVALID_AUTHENTICATION" });
    expect((await sim.fetch(`${API}/objects/contacts/1`)).status).toBe(401);

    const strict = createHubspotSimulator({ tokens: ["pat-na1-only"] });
    expect((await call(strict, "GET", "/objects/contacts/1")).status).toBe(401);
    expect((await call(strict, "GET", "/objects/contacts/1", undefined, { authorization: "Bearer pat-na1-only", "content-type": "application/json" })).status).toBe(404);
  });

  it("refreshes OAuth tokens, which expire after their lifetime", async () => {
    let clock = Date.parse("2026-11-26T12:00:00Z");
    const sim = createHubspotSimulator({
      now: () => clock,
      oauthClients: [{ clientId: "client", clientSecret: "secret", refreshToken: "refresh" }],
    });
    const form = (fields: Record<string, string>) =>
      sim.fetch("https://api.hubapi.com/oauth/v1/token", { method: "POST", body: new URLSearchParams(fields) });
    const refused = await form({ grant_type: "refresh_token", refresh_token: "other", client_id: "client", client_secret: "secret" });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ status: "BAD_REFRESH_TOKEN" });

    const ok = await form({ grant_type: "refresh_token", refresh_token: "refresh", client_id: "client", client_secret: "secret" });
    const token = (await ok.json()) as { access_token: string; expires_in: number };
    expect(token.expires_in).toBe(1800);
    expect(sim.issuedTokens).toEqual([token.access_token]);
    const headers = { authorization: `Bearer ${token.access_token}`, "content-type": "application/json" };
    expect((await call(sim, "GET", "/objects/contacts/1", undefined, headers)).status).toBe(404);
    clock += 1801_000;
    const expired = await call(sim, "GET", "/objects/contacts/1", undefined, headers);
    expect(expired.status).toBe(401);
    expect(await expired.json()).toMatchObject({ category: "EXPIRED_AUTHENTICATION" });

    sim.expireToken("pat-na1-test");
    expect(((await (await call(sim, "GET", "/objects/contacts/1")).json()) as { category: string }).category).toBe("EXPIRED_AUTHENTICATION");
  });

  it("answers 429 TEN_SECONDLY_ROLLING past the window's budget, and lets requests through once it rolls", async () => {
    let clock = 0;
    const sim = createHubspotSimulator({ now: () => clock, rateLimit: { max: 3, intervalMs: 10_000 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await call(sim, "GET", "/objects/contacts/1");
      statuses.push(response.status);
      expect(response.headers.get("x-hubspot-ratelimit-remaining")).toBe(String(2 - i));
      clock += 1000;
    }
    const limited = await call(sim, "GET", "/objects/contacts/1");
    expect([...statuses, limited.status]).toEqual([404, 404, 404, 429]);
    expect(await limited.json()).toMatchObject({ status: "error", errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING" });
    expect(limited.headers.get("x-hubspot-ratelimit-interval-milliseconds")).toBe("10000");
    clock = 10_001;
    expect((await call(sim, "GET", "/objects/contacts/1")).status).toBe(404);
  });

  it("answers 429 DAILY once the daily budget is spent", async () => {
    const sim = createHubspotSimulator({ dailyLimit: 1 });
    await call(sim, "GET", "/objects/contacts/1");
    const limited = await call(sim, "GET", "/objects/contacts/1");
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ policyName: "DAILY" });
  });
});

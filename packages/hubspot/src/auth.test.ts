import { createMemoryState } from "@meshwork/destination-kit";
import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import { TOKEN_STATE_KEY } from "./auth.js";
import badRefresh from "./__fixtures__/oauth-bad-refresh-token.json";
import contact from "./__fixtures__/contact.json";
import expiredAuth from "./__fixtures__/expired-authentication.json";
import { API, PRIVATE_APP_TOKEN, run, useMockServer } from "./__fixtures__/harness.js";
import token from "./__fixtures__/oauth-token.json";

const { server, sent } = useMockServer();

const oauth = {
  accessToken: "CJSP5qf1KhICAQEYs-gDIIGOBii1_oxyMQ-old",
  refreshToken: "6f18f21e-a743-4509-b7fd-1a5e632fffa1",
  clientId: "5fd5e4a8-0c3b-4a5e-9a0b-2f1b2ad0e6c2",
  clientSecret: "8a1f6e2c-7d4b-4c93-b6a5-0e9f1d2c3b4a",
};
const NEW_TOKEN = token.access_token;
const metadata = { properties: { lifecyclestage: "lead" } };

/** Answers the contact PATCH only for `accepted`, EXPIRED_AUTHENTICATION otherwise. */
const patchAccepting = (accepted: string) =>
  http.patch(`${API}/crm/v3/objects/contacts/:email`, ({ request }) =>
    request.headers.get("authorization") === `Bearer ${accepted}`
      ? HttpResponse.json(contact)
      : HttpResponse.json(expiredAuth, { status: 401 }),
  );
const tokenEndpoint = () => http.post(`${API}/oauth/v1/token`, () => HttpResponse.json(token));

function expectNoSecret(result: unknown) {
  const recorded = JSON.stringify(result);
  for (const secret of [oauth.accessToken, oauth.refreshToken, oauth.clientSecret, NEW_TOKEN]) {
    expect(recorded).not.toContain(secret);
    expect(recorded).not.toContain(encodeURIComponent(secret));
  }
}

describe("OAuth refresh", () => {
  it("refreshes an expired token before the first request, form-encoded, and uses the new token", async () => {
    server.use(tokenEndpoint(), patchAccepting(NEW_TOKEN));
    const state = createMemoryState();
    const result = await run("sync_contact", { metadata, credentials: { ...oauth, expiresAt: Date.now() - 1000 }, state });
    expect(result).toMatchObject({ outcome: "delivered" });

    const [refresh, patch, ...rest] = await sent();
    expect(rest).toEqual([]);
    expect(refresh).toMatchObject({ method: "POST", path: "/oauth/v1/token" });
    expect(refresh!.headers["content-type"]).toMatch(/^application\/x-www-form-urlencoded/);
    expect(Object.fromEntries(new URLSearchParams(refresh!.text))).toEqual({
      grant_type: "refresh_token",
      refresh_token: oauth.refreshToken,
      client_id: oauth.clientId,
      client_secret: oauth.clientSecret,
    });
    expect(patch!.headers.authorization).toBe(`Bearer ${NEW_TOKEN}`);
    expect(state.get(TOKEN_STATE_KEY)).toMatchObject({ accessToken: NEW_TOKEN, issuedFor: oauth.accessToken });
    expectNoSecret(result);
    expect(result.exchanges[0]!.request.body).toContain("[REDACTED]");
  });

  it("on 401 EXPIRED_AUTHENTICATION refreshes once and retries the request once", async () => {
    server.use(tokenEndpoint(), patchAccepting(NEW_TOKEN));
    const result = await run("sync_contact", { metadata, credentials: oauth });
    expect(result).toMatchObject({ outcome: "delivered" });
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization ?? ""}`)).toEqual([
      `PATCH /crm/v3/objects/contacts/alex%40northstar.io Bearer ${oauth.accessToken}`,
      `POST /oauth/v1/token Bearer ${oauth.accessToken}`,
      `PATCH /crm/v3/objects/contacts/alex%40northstar.io Bearer ${NEW_TOKEN}`,
    ]);
    expectNoSecret(result);
  });

  it("gives up with auth_failed when the refreshed token is refused too (no second refresh)", async () => {
    server.use(tokenEndpoint(), patchAccepting("never"));
    const result = await run("sync_contact", { metadata, credentials: oauth });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false, status: 401 });
    expect((await sent()).map((r) => r.method)).toEqual(["PATCH", "POST", "PATCH"]);
    expectNoSecret(result);
  });

  it("reuses the connection's refreshed token on the next attempt without refreshing", async () => {
    const state = createMemoryState();
    server.use(tokenEndpoint(), patchAccepting(NEW_TOKEN));
    await run("sync_contact", { metadata, credentials: oauth, state });
    const second = await run("sync_contact", { metadata, credentials: oauth, state });
    expect(second).toMatchObject({ outcome: "delivered" });
    const requests = await sent();
    expect(requests.map((r) => r.method)).toEqual(["PATCH", "POST", "PATCH", "PATCH"]);
    expect(requests[3]!.headers.authorization).toBe(`Bearer ${NEW_TOKEN}`);
    expect(second.exchanges).toHaveLength(1);
    expectNoSecret(second);
  });

  it("keeps tokens per connection: another connection's state does not see the refreshed token", async () => {
    server.use(tokenEndpoint(), patchAccepting(NEW_TOKEN));
    const stateA = createMemoryState();
    const stateB = createMemoryState();
    await run("sync_contact", { metadata, credentials: oauth, state: stateA, connection: "a" });
    expect(stateB.get(TOKEN_STATE_KEY)).toBeUndefined();
    await run("sync_contact", { metadata, credentials: oauth, state: stateB, connection: "b" });
    const requests = await sent();
    // B starts from its own credential and refreshes for itself.
    expect(requests.map((r) => r.method)).toEqual(["PATCH", "POST", "PATCH", "PATCH", "POST", "PATCH"]);
    expect(requests[3]!.headers.authorization).toBe(`Bearer ${oauth.accessToken}`);
  });

  it("ignores a refreshed token kept from before the connection was reconnected", async () => {
    const state = createMemoryState({
      [TOKEN_STATE_KEY]: { accessToken: "stale-token-from-old-grant", refreshToken: "old", expiresAt: Date.now() + 600_000, issuedFor: "old-access" },
    });
    server.use(patchAccepting(oauth.accessToken));
    const result = await run("sync_contact", { metadata, credentials: oauth, state });
    expect(result.outcome).toBe("delivered");
    expect((await sent())[0]!.headers.authorization).toBe(`Bearer ${oauth.accessToken}`);
  });

  it("turns a refused refresh token into auth_failed", async () => {
    server.use(http.post(`${API}/oauth/v1/token`, () => HttpResponse.json(badRefresh, { status: 400 })));
    const result = await run("sync_contact", { metadata, credentials: { ...oauth, expiresAt: Date.now() - 1 } });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false, status: 400 });
    expect(result.message).toContain("missing or unknown refresh token");
    expect(result.message).toContain("reconnect HubSpot");
    expectNoSecret(result);
  });

  it("never refreshes a private-app token: EXPIRED_AUTHENTICATION is auth_failed", async () => {
    server.use(patchAccepting("never"));
    const result = await run("sync_contact", { metadata, credentials: { accessToken: PRIVATE_APP_TOKEN } });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false });
    expect(result.message).toContain("EXPIRED_AUTHENTICATION");
    expect((await sent()).map((r) => r.method)).toEqual(["PATCH"]);
  });

  it("names the missing OAuth field when credentials are half OAuth", async () => {
    const result = await run("sync_contact", { metadata, credentials: { accessToken: "x", refreshToken: "y" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error" });
    expect(result.message).toMatch(/credentials are invalid at clientId: required for OAuth connections/);
  });
});

import { decodeJwt, decodeProtectedHeader, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { ACCESS, bearer, get, ingestHeaders, KEYS, post, SECRETS, startServer } from "./__fixtures__/setup.js";
import { mintManagementToken, type MeshworkServer } from "./index.js";

let server: MeshworkServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const key = (secret: string) => new TextEncoder().encode(secret);

/** A token built by hand, so each claim can be wrong on its own. */
async function token(overrides: { kid?: string; iss?: string; aud?: string; iat?: number; exp?: number; secret?: string; alg?: string } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const kid = overrides.kid ?? ACCESS.acme.accessKey;
  return new SignJWT({ org: "00000000-0000-0000-0000-000000000000" })
    .setProtectedHeader({ alg: overrides.alg ?? "HS256", typ: "JWT", kid })
    .setIssuer(overrides.iss ?? `urn:meshes:m2m:${kid}`)
    .setAudience(overrides.aud ?? "meshes-api")
    .setIssuedAt(overrides.iat ?? now)
    .setExpirationTime(overrides.exp ?? now + 30)
    .sign(key(overrides.secret ?? SECRETS.acmeSecretKey));
}

const call = (s: MeshworkServer, authorization?: string) => s.app.request("/api/v1/events", { headers: authorization === undefined ? {} : { authorization } });

describe("mintManagementToken", () => {
  it("signs what the Meshes clients sign: HS256, kid, iss, aud, 30 s", async () => {
    const jwt = await mintManagementToken({ ...ACCESS.acme, org: "org-1" });
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "HS256", typ: "JWT", kid: ACCESS.acme.accessKey });
    const claims = decodeJwt(jwt);
    expect(claims).toMatchObject({ iss: `urn:meshes:m2m:${ACCESS.acme.accessKey}`, aud: "meshes-api", org: "org-1" });
    expect(claims.exp! - claims.iat!).toBe(30);
    await expect(mintManagementToken({ ...ACCESS.acme, expiresInSeconds: 61 })).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(mintManagementToken({ accessKey: "", secretKey: "x" })).rejects.toMatchObject({ code: "invalid_argument" });
  });

  it("is accepted when signed the Meshes way by another library (jose, org claim)", async () => {
    server = await startServer();
    expect((await call(server, `Bearer ${await token()}`)).status).toBe(200);
  });
});

describe("management authentication", () => {
  it("refuses every bad token with 401 and a reason", async () => {
    server = await startServer();
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<[string, string | undefined, RegExp]> = [
      ["missing", undefined, /missing Authorization/],
      ["not bearer", `Basic ${Buffer.from("a:b").toString("base64")}`, /Bearer/],
      ["garbage", "Bearer not.a.jwt", /not a valid JWT/],
      ["expired", `Bearer ${await token({ iat: now - 120, exp: now - 90 })}`, /expired/],
      ["wrong audience", `Bearer ${await token({ aud: "other-api" })}`, /aud/],
      ["wrong key (signature)", `Bearer ${await token({ secret: "not-the-secret-key-at-all" })}`, /signature/],
      ["unknown access key", `Bearer ${await token({ kid: "mk_nobody", secret: SECRETS.acmeSecretKey })}`, /unknown access key/],
      ["another key's secret", `Bearer ${await token({ kid: ACCESS.globex.accessKey, secret: SECRETS.acmeSecretKey })}`, /signature/],
      ["wrong issuer", `Bearer ${await token({ iss: "urn:meshes:m2m:mk_someone_else" })}`, /iss/],
      ["lives too long", `Bearer ${await token({ iat: now, exp: now + 3600 })}`, /60 s/],
      ["issued in the future", `Bearer ${await token({ iat: now + 600, exp: now + 630 })}`, /future|iat/],
      ["HS512", `Bearer ${await token({ alg: "HS512" })}`, /HS256/],
    ];
    for (const [name, authorization, reason] of cases) {
      const res = await call(server, authorization);
      expect(res.status, name).toBe(401);
      expect(res.headers.get("www-authenticate"), name).toMatch(/^Bearer/);
      const body = (await res.json()) as { message: string; error: string };
      expect(body.error, name).toBe("unauthorized");
      expect(body.message, name).toMatch(reason);
    }
  });

  it("refuses an unsigned (alg: none) token", async () => {
    server = await startServer();
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT", kid: ACCESS.acme.accessKey })).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(JSON.stringify({ iss: `urn:meshes:m2m:${ACCESS.acme.accessKey}`, aud: "meshes-api", iat: now, exp: now + 30 })).toString("base64url");
    expect((await call(server, `Bearer ${header}.${payload}.`)).status).toBe(401);
  });

  it("rate-limits per access key with 429 and Retry-After", async () => {
    server = await startServer({ managementRateLimit: { requests: 2, perMs: 10_000 } });
    expect((await get(server, "/api/v1/workspaces")).status).toBe(200);
    expect((await get(server, "/api/v1/workspaces")).status).toBe(200);
    const limited = await get(server, "/api/v1/workspaces");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await get(server, "/api/v1/workspaces", "globex")).status).toBe(200);
  });
});

describe("workspace scoping", () => {
  it("never lets a key list, read, retry or cancel another workspace's events (404, as for ids that do not exist)", async () => {
    server = await startServer();
    server.engine.sandbox("acme-hook").inject({ status: 500, times: 1 });
    const res = await post(server, "/api/v1/events/bulk", [{ event: "user.signup", payload: { email: "a@x.io" } }], ingestHeaders(KEYS.acme));
    const acmeId = ((await res.json()) as { records: Array<{ id: string }> }).records[0]!.id;
    await server.engine.drain({ timeoutMs: 5000 });

    const asGlobex = async (method: string, path: string) => server!.app.request(path, { method, headers: await bearer("globex") });
    const probes: Array<[string, string]> = [
      ["GET", `/api/v1/events/${acmeId}`],
      ["GET", `/api/v1/events/${acmeId}/payload`],
      ["GET", `/api/v1/events/${acmeId}/rules/acme-signup-hook/attempts`],
      ["POST", `/api/v1/events/${acmeId}/rules/acme-signup-hook/retry`],
      ["POST", `/api/v1/events/${acmeId}/rules/acme-signup-hook/cancel`],
      ["POST", `/api/v1/events/${acmeId}/cancel`],
      ["GET", `/api/v1/events?workspace=acme-prod`],
      ["GET", `/api/v1/workspaces/acme-prod`],
      ["GET", `/api/v1/workspaces/acme-prod/events`],
      ["GET", `/api/v1/workspaces/acme-prod/rules`],
      ["GET", `/api/v1/workspaces/acme-prod/connections`],
    ];
    for (const [method, path] of probes) {
      const answer = await asGlobex(method, path);
      expect(answer.status, `${method} ${path}`).toBe(404);
      const body = (await answer.json()) as { error: string; message: string };
      expect(body.error).toBe("not_found");
      // Same answer as for something that does not exist at all.
      const ghost = await asGlobex(method, path.replace(acmeId, "evt_does_not_exist").replace("acme-prod", "nowhere-prod"));
      expect(ghost.status).toBe(404);
      expect(((await ghost.json()) as { message: string }).message.replace("evt_does_not_exist", acmeId).replace("nowhere-prod", "acme-prod")).toBe(body.message);
    }
    const listing = (await (await asGlobex("GET", "/api/v1/events")).json()) as { records: unknown[] };
    expect(listing.records).toEqual([]);
    expect((await asGlobex("POST", "/api/v1/replay")).status).toBe(400);

    // Nothing happened to the delivery: it is still waiting for its retry.
    const detail = await server.engine.events.get(acmeId, { workspace: "acme-prod" });
    expect(detail!.deliveries.find((d) => d.rule_id === "acme-signup-hook")!.status).toBe("retrying");
    // The owner can.
    expect((await get(server, `/api/v1/events/${acmeId}`, "acme")).status).toBe(200);
    expect((await get(server, `/api/v1/events/${acmeId}`, "both")).status).toBe(200);
  });

  it("keeps two workspaces' events apart even when they share an id", async () => {
    server = await startServer();
    await post(server, "/api/v1/events", { id: "shared-1", event: "user.signup", payload: { who: "acme" } }, ingestHeaders(KEYS.acme));
    await post(server, "/api/v1/events", { id: "shared-1", event: "user.signup", payload: { who: "globex" } }, ingestHeaders(KEYS.globex));
    const acme = (await (await get(server, "/api/v1/events/shared-1/payload", "acme")).json()) as { workspace: string; payload: { who: string } };
    const globex = (await (await get(server, "/api/v1/events/shared-1/payload", "globex")).json()) as { workspace: string; payload: { who: string } };
    expect([acme.workspace, acme.payload.who]).toEqual(["acme-prod", "acme"]);
    expect([globex.workspace, globex.payload.who]).toEqual(["globex-prod", "globex"]);
  });
});

import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { Webhook } from "standardwebhooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { deliver, event, NOW, SECRET_B, VECTOR } from "./__fixtures__/deliveries.js";
import { signWebhook, WEBHOOK_CONCURRENCY, WEBHOOK_RATE_LIMIT, webhook, type WebhookSimulator } from "./index.js";

const URL_ = "https://hooks.northstar.io/meshwork/inbound?source=meshwork";
const base = { url: URL_, secrets: [VECTOR.secret] };

interface Captured {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}
let captured: Captured[] = [];
let reply: () => Response = () => HttpResponse.json({ received: true });

const server = setupServer(
  http.all("https://hooks.northstar.io/*", async ({ request }) => {
    captured.push({
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
    });
    return reply();
  }),
);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  captured = [];
  reply = () => HttpResponse.json({ received: true });
  server.resetHandlers();
});
afterAll(() => server.close());

const expectedEnvelope =
  '{"id":"evt_01JDQ8Z7W3","type":"user.signup","event":"user.signup","workspace":"acme-prod",' +
  '"resource":"account","resource_id":"acct_42","payload":{"email":"alex@northstar.io","plan":"pro","seats":3},' +
  '"created_at":"2026-11-26T11:59:58.000Z"}';

describe("send_webhook: what is sent", () => {
  it("POSTs the event envelope as JSON with the three Standard Webhooks headers, signing the exact bytes sent", async () => {
    const result = await deliver(base);
    expect(result).toMatchObject({ outcome: "delivered", status: 200, message: "webhook del_7f3a9c delivered to hooks.northstar.io (200)" });
    expect(captured).toHaveLength(1);
    const [request] = captured;
    expect(request).toMatchObject({ method: "POST", url: URL_, body: expectedEnvelope });
    expect(request!.headers).toMatchObject({
      "content-type": "application/json",
      "webhook-id": "del_7f3a9c",
      "webhook-timestamp": String(NOW / 1000),
      "user-agent": "Meshwork-Webhooks/1",
    });
    expect(request!.headers).not.toHaveProperty("authorization");
    expect(request!.headers["webhook-signature"]).toBe(
      signWebhook(VECTOR.secret, { id: "del_7f3a9c", timestamp: NOW / 1000, body: request!.body }),
    );
  });

  it("keeps webhook-id across attempts of one delivery and stamps each attempt with the clock", async () => {
    await deliver(base, { attempt: 1, now: () => NOW });
    await deliver(base, { attempt: 2, now: () => NOW + 5_400 });
    await deliver(base, { idempotencyKey: "del_other", now: () => NOW + 5_400 });
    const [first, second, other] = captured.map((request) => request.headers);
    expect(first!["webhook-id"]).toBe("del_7f3a9c");
    expect(second!["webhook-id"]).toBe("del_7f3a9c");
    expect(other!["webhook-id"]).toBe("del_other");
    expect(first!["webhook-timestamp"]).toBe(String(NOW / 1000));
    expect(second!["webhook-timestamp"]).toBe(String(NOW / 1000 + 5));
    expect(second!["webhook-signature"]).not.toBe(first!["webhook-signature"]);
    expect(captured[0]!.body).toBe(captured[1]!.body);
  });

  it("signs with every secret, and each secret alone verifies with the standardwebhooks package", async () => {
    await deliver({ ...base, secrets: [VECTOR.secret, SECRET_B] }, { now: Date.now });
    const [request] = captured;
    expect(request!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    for (const secret of [VECTOR.secret, SECRET_B]) {
      expect(new Webhook(secret).verify(request!.body, request!.headers)).toEqual(JSON.parse(expectedEnvelope));
    }
  });

  it.each(["PUT", "PATCH"] as const)("uses the configured method %s", async (method) => {
    await deliver({ ...base, method });
    expect(captured[0]).toMatchObject({ method, body: expectedEnvelope });
  });

  it("sends a bearer token", async () => {
    await deliver({ ...base, auth: { type: "bearer", token: "tok_live_8c1f2e" } });
    expect(captured[0]!.headers.authorization).toBe("Bearer tok_live_8c1f2e");
  });

  it("sends basic credentials", async () => {
    await deliver({ ...base, auth: { type: "basic", username: "meshwork", password: "s3cr3t-pa55" } });
    expect(captured[0]!.headers.authorization).toBe(`Basic ${Buffer.from("meshwork:s3cr3t-pa55").toString("base64")}`);
  });

  it("sends custom headers, which cannot replace the webhook headers", async () => {
    await deliver({ ...base, headers: { "X-Tenant": "northstar", "User-Agent": "northstar-relay" } });
    expect(captured[0]!.headers).toMatchObject({
      "x-tenant": "northstar",
      "user-agent": "northstar-relay",
      "content-type": "application/json",
      "webhook-id": "del_7f3a9c",
    });
  });

  it("lets a custom Authorization header through when auth is none", async () => {
    await deliver({ ...base, headers: { Authorization: "Token abc123" } });
    expect(captured[0]!.headers.authorization).toBe("Token abc123");
  });

  it.each([
    [{ "webhook-id": "mine" }, 'headers.webhook-id: header "webhook-id" is set by Meshwork'],
    [{ "Webhook-Signature": "v1,x" }, 'headers.Webhook-Signature: header "Webhook-Signature" is set by Meshwork'],
    [{ "content-type": "text/plain" }, 'header "content-type" is set by Meshwork'],
    [{ host: "internal.example" }, 'header "host" is set by Meshwork'],
    [{ "bad header": "x" }, "is not a valid header name"],
    [{ "x-evil": "a\r\nb: c" }, "has a value with a line break"],
  ])("refuses connection headers %j before sending anything", async (headers, message) => {
    const result = await deliver({ ...base, headers });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toContain(message);
    expect(captured).toHaveLength(0);
  });

  it("refuses an Authorization header next to bearer or basic auth", async () => {
    const result = await deliver({ ...base, auth: { type: "bearer", token: "tok_live_8c1f2e" }, headers: { authorization: "x" } });
    expect(result.message).toContain('headers.authorization: header "authorization" conflicts with the auth setting');
    expect(captured).toHaveLength(0);
  });

  it("overrides the envelope type with metadata.event_type, templates rendered", async () => {
    await deliver(base, { metadata: { event_type: "{{plan}}.signup" } });
    expect(JSON.parse(captured[0]!.body)).toMatchObject({ type: "pro.signup", event: "user.signup" });
  });

  it("refuses unknown metadata fields as a mapping error", async () => {
    const result = await deliver(base, { metadata: { eventType: "x" } });
    expect(result).toMatchObject({ outcome: "mapping_error", retryable: false });
    expect(captured).toHaveLength(0);
  });

  it("sends null for an event without resource", async () => {
    await deliver(base, { event: { ...event, resource: undefined, resource_id: undefined } as never });
    expect(JSON.parse(captured[0]!.body)).toMatchObject({ resource: null, resource_id: null });
  });

  it('sends the mapping output, byte for byte, in payloadMode "mapped"', async () => {
    const mapped = { email: "alex@northstar.io", plan_name: "PRO", seats: 3 };
    const result = await deliver({ ...base, payloadMode: "mapped" }, { mapped, metadata: { event_type: "x" } });
    expect(result.outcome).toBe("delivered");
    expect(captured[0]!.body).toBe('{"email":"alex@northstar.io","plan_name":"PRO","seats":3}');
    expect(result.notes).toEqual(['warning: metadata.event_type has no effect with payloadMode "mapped"; the body is the mapping output']);
  });

  it('fails with mapping_error when payloadMode is "mapped" and the rule has no mapping', async () => {
    const result = await deliver({ ...base, payloadMode: "mapped" });
    expect(result).toMatchObject({ outcome: "mapping_error", retryable: false });
    expect(result.message).toContain("the rule has no mapping");
    expect(captured).toHaveLength(0);
  });

  it("sends to the factory's baseUrl instead of the connection's origin, keeping path and query", async () => {
    await deliver(
      { ...base, url: "http://10.0.0.7:9000/meshwork/inbound?source=meshwork" },
      { options: { baseUrl: "https://hooks.northstar.io/relay" } },
    );
    expect(captured[0]!.url).toBe("https://hooks.northstar.io/relay/meshwork/inbound?source=meshwork");
  });

  it("declares its defaults", () => {
    const destination = webhook();
    expect(destination).toMatchObject({ type: "webhook", rateLimit: WEBHOOK_RATE_LIMIT, concurrency: WEBHOOK_CONCURRENCY });
    expect(WEBHOOK_RATE_LIMIT).toEqual({ requests: 50, perMs: 1000 });
    expect(Object.keys(destination.actions)).toEqual(["send_webhook"]);
  });
});

describe("send_webhook: how the receiver's answer is classified", () => {
  it.each([
    [200, "<html>thanks</html>"],
    [201, ""],
    [202, "queued"],
    [204, null],
  ])("%i (any body) is delivered", async (status, body) => {
    reply = () => new HttpResponse(body, { status });
    expect(await deliver(base)).toMatchObject({ outcome: "delivered", status });
  });

  it("410 disables the connection and says so", async () => {
    reply = () => new HttpResponse("gone", { status: 410 });
    const result = await deliver(base);
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 410, disableConnection: true });
    expect(result.message).toBe(
      "the receiver answered 410 Gone: it asked to stop receiving webhooks. The connection is disabled until it is re-enabled.",
    );
  });

  it.each([
    [408, "timeout"],
    [500, "rejected_server_error"],
    [501, "rejected_server_error"],
    [502, "rejected_server_error"],
    [503, "rejected_server_error"],
    [504, "rejected_server_error"],
    [505, "rejected_server_error"],
  ])("%i is retried (%s)", async (status, outcome) => {
    reply = () => new HttpResponse("busy", { status });
    expect(await deliver(base)).toMatchObject({ outcome, retryable: true, status });
  });

  it("429 is rate_limited with Retry-After honoured", async () => {
    reply = () => new HttpResponse(null, { status: 429, headers: { "retry-after": "30" } });
    expect(await deliver(base)).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 30_000 });
  });

  it.each([
    [400, "rejected_client_error"],
    [401, "auth_failed"],
    [403, "rejected_client_error"],
    [404, "rejected_client_error"],
    [422, "rejected_client_error"],
  ])("%i fails at once (%s)", async (status, outcome) => {
    reply = () => HttpResponse.json({ message: "nope" }, { status });
    const result = await deliver(base);
    expect(result).toMatchObject({ outcome, retryable: false, status });
    expect(result.disableConnection).toBeUndefined();
  });

  it.each([301, 302, 307, 308])("a %i redirect is not followed and fails permanently", async (status) => {
    let followed = false;
    server.use(
      http.all("https://hooks.northstar.io/elsewhere", () => {
        followed = true;
        return HttpResponse.json({});
      }),
    );
    reply = () => new HttpResponse(null, { status, headers: { location: "https://hooks.northstar.io/elsewhere" } });
    const result = await deliver(base);
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status });
    expect(result.message).toContain(`answered a ${status} redirect, which is not followed`);
    expect(captured).toHaveLength(1);
    expect(followed).toBe(false);
  });

  it("a network error is retried", async () => {
    reply = () => HttpResponse.error();
    expect(await deliver(base)).toMatchObject({ outcome: "network_error", retryable: true });
  });
});

describe("the sandbox", () => {
  it("verifies signatures with the connection's own secrets", async () => {
    const destination = webhook();
    const credentials = { url: "https://hooks.northstar.io/meshwork", secrets: [VECTOR.secret] };
    const sandbox = (id: string, workspace: string, secrets: string[]) =>
      destination.sandbox({ id, workspace, type: "webhook", mode: "sandbox", credentials: destination.credentials.parse({ ...credentials, secrets }) }) as WebhookSimulator;
    const simulator = sandbox("acme-webhook", "acme-prod", [VECTOR.secret]);
    const result = await deliver(credentials, { fetch: simulator.fetch, now: Date.now });
    expect(result, result.message).toMatchObject({ outcome: "delivered" });
    expect(simulator.snapshot().deliveries[0]).toMatchObject({ verified: true });

    // A connection whose secret is not the one the deliveries are signed with is refused.
    const other = sandbox("beta-webhook", "beta-prod", [SECRET_B]);
    const refused = await deliver(credentials, { fetch: other.fetch, now: Date.now });
    expect(refused).toMatchObject({ outcome: "auth_failed", status: 401 });
    expect(other.snapshot().rejected[0]).toMatchObject({ code: "no_matching_signature" });
  });
});

describe("send_webhook: attempt records", () => {
  it("never hold the URL, secrets, bearer token, basic credentials or custom header values", async () => {
    const secrets = [VECTOR.secret, SECRET_B];
    const failing = [200, 500, 410, 400];
    const records = [];
    for (const status of failing) {
      const bearer = { ...base, secrets, auth: { type: "bearer", token: "tok_live_8c1f2e" }, headers: { "x-api-key": "k3y-9f8e7d" } };
      const basic = { ...base, secrets, auth: { type: "basic", username: "relay-user", password: "s3cr3t-pa55" } };
      // A receiver that echoes what it got back into its answer, in the body and a header.
      const echo = (...values: string[]) => () =>
        new HttpResponse(`echo ${values.join(" ")}`, { status, headers: { "x-echo": values.join(" ") } });
      reply = echo(URL_, "tok_live_8c1f2e", "k3y-9f8e7d", VECTOR.secret);
      records.push(await deliver(bearer));
      reply = echo(URL_, "relay-user", "s3cr3t-pa55", SECRET_B);
      records.push(await deliver(basic));
    }
    const recorded = JSON.stringify(records);
    const basicToken = Buffer.from("relay-user:s3cr3t-pa55").toString("base64");
    for (const secret of [URL_, ...secrets, secrets[0]!.slice(6), "tok_live_8c1f2e", "relay-user", "s3cr3t-pa55", basicToken, "k3y-9f8e7d"]) {
      expect(recorded).not.toContain(secret);
      expect(recorded).not.toContain(encodeURIComponent(secret));
    }
    expect(records[0]!.exchanges[0]!.request.headers.authorization).toBe("[REDACTED]");
  });

  it("keep plain settings readable (method, payload mode), so bodies and messages stay useful", async () => {
    reply = () => new HttpResponse("unavailable", { status: 503 });
    const result = await deliver({ ...base, method: "POST", payloadMode: "event", auth: { type: "none" } });
    expect(result.exchanges[0]!.request).toMatchObject({ method: "POST", url: "[REDACTED]", body: expectedEnvelope });
    expect(result.message).toBe("POST [REDACTED] answered 503: unavailable");
  });

  it("report invalid credentials by path without echoing the values", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, secrets: ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }, 'secrets.0: a secret must start with "whsec_"'],
      [{ ...base, secrets: [] }, "secrets: at least one signing secret"],
      [{ ...base, url: "ftp://files.northstar.io/in" }, "url: must be an http: or https: URL, not ftp:"],
      [{ ...base, url: "https://user:pw@hooks.northstar.io/in" }, "url: must not hold a user name or password"],
      [{ ...base, url: "not a url" }, "url: must be an absolute http: or https: URL"],
      [{ ...base, method: "GET" }, "method:"],
      [{ ...base, auth: { type: "bearer", token: "" } }, "auth.token: must not be empty"],
    ];
    for (const [credentials, message] of cases) {
      const result = await deliver(credentials);
      expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
      expect(result.message).toContain(`connection credentials are invalid at ${message}`);
      expect(result.message).not.toContain("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }
    expect(captured).toHaveLength(0);
  });
});

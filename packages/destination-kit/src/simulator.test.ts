import { describe, expect, it } from "vitest";
import { acmeInput, createAcmeSimulator } from "./__fixtures__/acme.js";
import { createRequestClient, createSimulator, createSimulatorApp, runAction, type RequestClientConfig } from "./index.js";

const input = acmeInput;

function headerApp() {
  const app = createSimulatorApp();
  app.use(async (c, next) => {
    await next();
    c.res.headers.set("x-after", "1"); // what the HubSpot simulator does with its rate headers
  });
  app.post("/things", async (c) => {
    c.status(202);
    c.header("x-before", "yes");
    return c.json({ got: await c.req.json() }, { headers: { "X-Init": "i" } });
  });
  app.get("/empty", (c) => c.body(null, 204));
  app.get("/text", (c) => c.text("plain", 418, { "x-extra": "e" }));
  return createSimulator({ type: "things", app, snapshot: () => ({}) });
}

describe("createSimulatorApp", () => {
  it("answers in-process requests as Hono would: status, headers set before and after, JSON, text and empty bodies", async () => {
    const sim = headerApp();
    const posted = await sim.fetch("https://api.things.test/things", { method: "POST", body: JSON.stringify({ a: 1 }), headers: { "content-type": "application/json" } });
    expect(posted.status).toBe(202);
    expect(Object.fromEntries(posted.headers)).toEqual({ "content-type": "application/json", "x-before": "yes", "x-init": "i", "x-after": "1" });
    expect(await posted.json()).toEqual({ got: { a: 1 } });
    expect(posted instanceof Response).toBe(false); // no undici Response (and web stream) per answer

    const empty = await sim.fetch("https://api.things.test/empty");
    expect([empty.status, empty.body, await empty.text()]).toEqual([204, null, ""]);
    const text = await sim.fetch("https://api.things.test/text");
    expect([text.status, text.headers.get("content-type"), text.headers.get("x-extra"), await text.text()]).toEqual([418, "text/plain; charset=UTF-8", "e", "plain"]);
    const again = await sim.fetch("https://api.things.test/text");
    expect(await again.clone().text()).toBe("plain");
    expect(new TextDecoder().decode(await again.arrayBuffer())).toBe("plain");
    expect(await (await again.blob()).text()).toBe("plain");
  });

  it("checks and normalizes a request's headers as undici does, though ofetch builds them without undici", async () => {
    const sim = headerApp();
    const live: typeof fetch = (input, init) => sim.fetch(new Request(input as string, init));
    const client = (fetchImpl: typeof fetch) =>
      createRequestClient({ baseUrl: "https://api.things.test", fetch: fetchImpl, headers: {}, timeoutMs: 1000, record: () => {}, redact: (t) => t, now: Date.now } satisfies RequestClientConfig);
    // The same header through the simulator's own fetch and through undici's Request.
    for (const fetchImpl of [sim.fetch, live]) {
      await client(fetchImpl)("/things", { method: "POST", body: { a: 1 }, headers: { "X-Padded": "  v \t" } });
      expect(sim.requests.at(-1)!.headers["x-padded"]).toBe("v");
      for (const headers of [{ "x-bad": "a\r\nb" }, { "bad name": "v" }, { "x-wide": "caf\u0113" }] as Array<Record<string, string>>) {
        const failure = await client(fetchImpl)("/things", { method: "POST", body: { a: 1 }, headers }).catch((error: Error) => error);
        expect(failure).toMatchObject({ code: "network_error", message: expect.stringMatching(/invalid header (value|name)|ByteString/) });
      }
    }
  });

  it("records each request with its method, URL, headers and body, as read and as JSON", async () => {
    const sim = headerApp();
    await sim.fetch("https://api.things.test/things", { method: "POST", body: '{"a":1}', headers: { "Content-Type": "application/json", "X-Key": "k" } });
    const expected = { method: "POST", url: "https://api.things.test/things", headers: { "content-type": "application/json", "x-key": "k" }, body: '{"a":1}' };
    const recorded = sim.requests[0]!;
    expect([recorded.method, recorded.url, recorded.headers, recorded.body]).toEqual([expected.method, expected.url, expected.headers, expected.body]);
    expect(JSON.parse(JSON.stringify(sim.requests))).toEqual([expected]);
    recorded.headers = { "x-replaced": "1" };
    expect(recorded.headers).toEqual({ "x-replaced": "1" });
  });

  it("answers real Responses when the app is served over HTTP (given a Request)", async () => {
    const sim = headerApp();
    const response = await sim.fetch(new Request("https://api.things.test/things", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }));
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(202);
    expect(response.headers.get("x-before")).toBe("yes");
    expect(await response.json()).toEqual({ got: {} });
  });
});

describe("request signals", () => {
  it("gives a live fetch a new signal per request, and never one that was aborted", async () => {
    const signals: AbortSignal[] = [];
    const live = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      signals.push(init!.signal!);
      return new Response('{"id":1}', { status: 201, headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    await runAction(input({ fetch: live }));
    await runAction(input({ fetch: live }));
    expect(signals).toHaveLength(2);
    expect(signals[0]).not.toBe(signals[1]);
  });

  it("reuses a simulator's signals only while never aborted: a timeout or an abort does not leak into the next request", async () => {
    const sim = createAcmeSimulator();
    for (let i = 0; i < 3; i++) expect((await runAction(input({ fetch: sim.fetch }))).outcome).toBe("delivered");
    sim.inject({ hang: true });
    expect((await runAction(input({ fetch: sim.fetch, timeoutMs: 20 }))).outcome).toBe("timeout");
    expect((await runAction(input({ fetch: sim.fetch }))).outcome).toBe("delivered");

    const engine = new AbortController();
    sim.inject({ hang: true });
    const hanging = runAction(input({ fetch: sim.fetch, signal: engine.signal, timeoutMs: 60_000 }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    engine.abort(new Error("engine stopped"));
    expect((await hanging).outcome).toBe("timeout");
    for (let i = 0; i < 3; i++) expect((await runAction(input({ fetch: sim.fetch }))).outcome).toBe("delivered");
    expect(sim.snapshot().notes).toHaveLength(7);
  });
});

describe("simulated answers' headers", () => {
  it("behave as Headers: any case of name, sorted iteration, an injected fault's names lowercased", async () => {
    const sim = createSimulator({ type: "things", app: createSimulatorApp(), snapshot: () => ({}) });
    sim.inject({ status: 429, headers: { "Retry-After": "2", "X-RateLimit-Remaining": "0" }, body: { message: "slow down" } });
    const response = await sim.fetch("https://api.things.test/things");
    const headers = response.headers;
    expect(headers).toBeInstanceOf(Headers);
    expect([headers.get("retry-after"), headers.get("RETRY-AFTER"), headers.get("constructor"), headers.has("x-ratelimit-remaining")]).toEqual(["2", "2", null, true]);
    expect([...headers.keys()]).toEqual(["content-type", "retry-after", "x-ratelimit-remaining"]);
    headers.append("retry-after", "3");
    headers.delete("X-RateLimit-Remaining");
    const seen: string[] = [];
    headers.forEach((value, name) => seen.push(`${name}=${value}`));
    expect(seen).toEqual(["content-type=application/json", "retry-after=2, 3"]);
    expect(Object.fromEntries(response.clone().headers)).toEqual({ "content-type": "application/json", "retry-after": "2, 3" });
  });
});

describe("recorded requests", () => {
  it("keeps the most recent ones and counts them all, so a long-running sandbox does not grow without bound", async () => {
    const app = createSimulatorApp();
    app.get("/things/:n", (c) => c.json({ n: c.req.param("n") }));
    const sim = createSimulator({ type: "things", app, snapshot: () => ({}), keepRequests: 10 });
    for (let n = 1; n <= 25; n++) await sim.fetch(`https://api.things.test/things/${n}`);
    expect(sim.requestCount()).toBe(25);
    expect(sim.requests.length).toBeGreaterThanOrEqual(10);
    expect(sim.requests.length).toBeLessThanOrEqual(11);
    expect(sim.requests.at(-1)).toMatchObject({ method: "GET", url: "https://api.things.test/things/25", body: "" });
    expect(sim.requests.map((r) => Number(r.url.split("/").pop()))).toEqual(Array.from({ length: sim.requests.length }, (_, i) => 26 - sim.requests.length + i));
  });
});

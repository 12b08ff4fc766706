import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { acme, acmeInput, createAcmeSimulator } from "./__fixtures__/acme.js";
import { createMemoryState, runAction } from "./index.js";

const input = acmeInput;

describe("runAction", () => {
  it("renders templates, sends the request and records a redacted exchange", async () => {
    const sim = createAcmeSimulator();
    const result = await runAction(input({ fetch: sim.fetch }));
    expect(result).toMatchObject({ outcome: "delivered", retryable: false, message: "note 1 added", status: 201 });
    expect(sim.snapshot()).toEqual({ notes: [{ text: "step 3 done", contact: "alex@northstar.io" }] });
    expect(sim.requests[0]).toMatchObject({ method: "POST", url: "https://api.acme.test/v1/notes" });
    expect(result.exchanges[0]?.request.headers.authorization).toBe("[REDACTED]");
    expect(JSON.stringify(result)).not.toContain("acme-secret-token");
  });

  it.each([
    [401, {}, "auth_failed", false],
    [429, { "retry-after": "7" }, "rate_limited", true],
    [503, {}, "rejected_server_error", true],
    [501, {}, "rejected_server_error", false],
    [408, {}, "timeout", true],
    [422, {}, "rejected_client_error", false],
  ])("classifies HTTP %i", async (status, headers, outcome, retryable) => {
    const sim = createAcmeSimulator();
    sim.inject({ status, headers, body: { message: "nope" } });
    const result = await runAction(input({ fetch: sim.fetch }));
    expect(result).toMatchObject({ outcome, retryable, status });
    expect(result.message).toContain("nope");
    if (status === 429) expect(result.retryAfterMs).toBe(7000);
  });

  it("turns a hanging server into a timeout", async () => {
    const sim = createAcmeSimulator();
    sim.inject({ hang: true });
    const result = await runAction(input({ fetch: sim.fetch, timeoutMs: 30 }));
    expect(result).toMatchObject({ outcome: "timeout", retryable: true });
  });

  it("adds one listener to the caller's long-lived signal however many requests run, and still aborts through it", async () => {
    const sim = createAcmeSimulator();
    const engine = new AbortController();
    for (let i = 0; i < 20; i++) {
      const result = await runAction(input({ fetch: sim.fetch, signal: engine.signal }));
      expect(result.outcome).toBe("delivered");
    }
    expect(getEventListeners(engine.signal, "abort")).toHaveLength(1);

    sim.inject({ hang: true });
    const hanging = runAction(input({ fetch: sim.fetch, signal: engine.signal, timeoutMs: 60_000 }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    engine.abort(new Error("engine stopped"));
    expect(await hanging).toMatchObject({ outcome: "timeout", retryable: true });
    expect((await hanging).message).toContain("was aborted");
  });

  it("never counts a 2xx without the documented JSON as delivered", async () => {
    const sim = createAcmeSimulator();
    sim.inject({ status: 200, body: "<html>login</html>" });
    const result = await runAction(input({ fetch: sim.fetch }));
    expect(result.outcome).toBe("rejected_server_error");
    expect(result.message).toMatch(/not JSON/);
  });

  it("reports a missing template value as mapping_error naming the path", async () => {
    const result = await runAction(input({ metadata: { text: "{{user.name}}", contact: "{{email}}" } }));
    expect(result).toMatchObject({ outcome: "mapping_error", retryable: false });
    expect(result.message).toContain('"user.name"');
  });

  it("reports metadata that fails the action schema as mapping_error", async () => {
    const result = await runAction(input({ metadata: { text: "hi", contact: "{{sequence_step}}" } }));
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.message).toMatch(/^metadata\.contact:/);
  });

  it("turns an adapter's own exception into internal_error", async () => {
    const broken = () => Promise.reject(new TypeError("boom"));
    const result = await runAction(input({ fetch: broken as typeof fetch }));
    expect(result.outcome).toBe("network_error");
    const sim = createAcmeSimulator();
    const destination = acme();
    const throwing = { ...destination, actions: { add_note: { ...destination.actions.add_note, perform: () => { throw new RangeError("bug"); } } } };
    const bug = await runAction(input({ destination: throwing as never, fetch: sim.fetch }));
    expect(bug).toMatchObject({ outcome: "internal_error", retryable: true, message: "acme.add_note threw RangeError: bug" });
  });

  it("redacts secrets kept in connection state, even ones set during the attempt", async () => {
    const state = createMemoryState();
    const destination = acme();
    const refreshing = {
      ...destination,
      actions: {
        add_note: {
          ...destination.actions.add_note,
          perform: async () => {
            state.set("accessToken", "fresh-token-123456");
            throw new Error("failed with fresh-token-123456");
          },
        },
      },
    };
    const result = await runAction(input({ destination: refreshing as never, state }));
    expect(result.message).not.toContain("fresh-token-123456");
  });

  it("redacts only the credentials a destination names as secret, when it names them", async () => {
    const sim = createAcmeSimulator();
    const destination = acme();
    const narrowed = { ...destination, redactCredentials: (credentials: { token: string }) => [credentials.token] };
    const credentials = { token: "acme-secret-token", region: "step" };
    const result = await runAction(input({ destination: narrowed as never, credentials, fetch: sim.fetch }));
    expect(result.outcome).toBe("delivered");
    const recorded = JSON.stringify(result);
    expect(recorded).not.toContain("acme-secret-token");
    expect(recorded).toContain("step 3 done");
  });
  it("awaits beforeRequest before every request of an attempt, with the timeout starting after it", async () => {
    const sim = createAcmeSimulator();
    const destination = acme();
    const twice = {
      ...destination,
      actions: {
        add_note: {
          ...destination.actions.add_note,
          perform: async ({ request }: { request: (path: string, options?: object) => Promise<unknown> }) => {
            await request("/notes", { method: "POST", body: { text: "a", contact: "alex@northstar.io" } });
            await request("/notes", { method: "POST", body: { text: "b", contact: "alex@northstar.io" } });
          },
        },
      },
    };
    const seen: string[] = [];
    const beforeRequest = async ({ method, path }: { method: string; path: string }) => {
      seen.push(`${method} ${path} (sent so far: ${sim.requests.length})`);
      // Longer than the request timeout: waiting for a token does not eat into it.
      await new Promise((resolve) => setTimeout(resolve, 60));
    };
    const result = await runAction(input({ destination: twice as never, fetch: sim.fetch, timeoutMs: 40, beforeRequest }));
    expect(result.outcome).toBe("delivered");
    expect(seen).toEqual(["POST /notes (sent so far: 0)", "POST /notes (sent so far: 1)"]);
    expect(sim.requests).toHaveLength(2);
  });

  it("fails the attempt as a retryable timeout when beforeRequest gives up, sending nothing", async () => {
    const sim = createAcmeSimulator();
    const beforeRequest = () => Promise.reject(new Error("engine stopping"));
    const result = await runAction(input({ fetch: sim.fetch, beforeRequest }));
    expect(result).toMatchObject({ outcome: "timeout", retryable: true });
    expect(result.message).toMatch(/was not sent: engine stopping/);
    expect(sim.requests).toHaveLength(0);
  });
});

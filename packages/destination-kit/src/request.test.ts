import { describe, expect, it } from "vitest";
import { createRequestClient } from "./index.js";

/** A request client over a fetch that answers `body` as text/plain. */
const answering = (body: string) =>
  createRequestClient({
    baseUrl: "https://api.acme.test",
    fetch: async () => new Response(body, { status: 200, headers: { "content-type": "text/plain" } }),
    headers: {},
    timeoutMs: 1000,
    record: () => {},
    redact: (text) => text,
    now: Date.now,
  });

describe("createRequestClient response bodies", () => {
  it("parses a body that starts with { or [ after JSON whitespace, whatever its content type says", async () => {
    expect((await answering(' \n\t\r{"a":1}')("/x")).data).toEqual({ a: 1 });
    expect((await answering("\n[1,2]")("/x")).data).toEqual([1, 2]);
  });

  it("keeps any other text as text, and refuses it where JSON was expected", async () => {
    expect((await answering("ok")("/x", { responseType: "text" })).data).toBe("ok");
    expect((await answering(" {not json")("/x", { responseType: "text" })).data).toBe(" {not json");
    await expect(answering("ok")("/x")).rejects.toThrow(/a body that is not JSON/);
  });

  it("sends an object body as JSON, with content-type application/json unless the action set one in any case", async () => {
    const sent: Array<Record<string, string>> = [];
    const request = createRequestClient({
      baseUrl: "https://api.acme.test",
      fetch: async (_input, init) => {
        sent.push(Object.fromEntries(new Headers(init?.headers)));
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      },
      headers: {},
      timeoutMs: 1000,
      record: () => {},
      redact: (text) => text,
      now: Date.now,
    });
    await request("/x", { method: "POST", body: { a: 1 } });
    await request("/x", { method: "POST", body: { a: 1 }, headers: { "Content-Type": "application/vnd.api+json" } });
    expect(sent.map((headers) => headers["content-type"])).toEqual(["application/json", "application/vnd.api+json"]);
  });
});

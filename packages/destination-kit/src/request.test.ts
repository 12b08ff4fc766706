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
});

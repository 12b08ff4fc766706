import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createClient, EventsClient } from "./index.node.js";
import { nodeFetch } from "./node-fetch.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
  socket: number;
}

let server: Server;
let base: string;
let seen: Seen[];
let answer: (request: Seen, response: ServerResponse) => void;

beforeEach(async () => {
  seen = [];
  answer = (request, response) => {
    const events = JSON.parse(request.body || "[]") as Array<{ id: string; event: string }>;
    const records = events.map((e) => ({ id: e.id, type: "event", event: e.event, workspace: "ws", created_by: "publishable_key", created_at: "2026-11-26T00:00:00.000Z", resource: "global", resource_id: null }));
    response.writeHead(201, { "content-type": "application/json", "x-request": String(seen.length) });
    response.end(JSON.stringify({ count: records.length, records }));
  };
  const sockets = new WeakMap<object, number>();
  let nextSocket = 0;
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (!sockets.has(request.socket)) sockets.set(request.socket, ++nextSocket);
      const entry = { method: request.method!, url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString(), socket: sockets.get(request.socket)! };
      seen.push(entry);
      answer(entry, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  vi.unstubAllGlobals();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("nodeFetch", () => {
  it("sends method, headers and body, and answers status, headers and body as a Response", async () => {
    const response = await nodeFetch(`${base}/api/v1/events/bulk`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Meshes-Publishable-Key": "mw_pub_k" },
      body: '[{"id":"e1","event":"user.signup","payload":{}}]',
    });
    expect(seen[0]).toMatchObject({ method: "POST", url: "/api/v1/events/bulk", body: '[{"id":"e1","event":"user.signup","payload":{}}]' });
    expect(seen[0]!.headers).toMatchObject({ "content-type": "application/json", "x-meshes-publishable-key": "mw_pub_k" });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-request")).toBe("1");
    expect(await response.json()).toMatchObject({ count: 1, records: [{ id: "e1" }] });
  });

  it("reads headers by any case, a repeated one joined as fetch joins it", async () => {
    answer = (_request, response) => {
      response.setHeader("Retry-After", "7");
      response.setHeader("X-Multi", ["a", "b"]);
      response.writeHead(503).end("{}");
    };
    const response = await nodeFetch(`${base}/x`);
    expect(response.headers.get("retry-after")).toBe("7");
    expect(response.headers.get("RETRY-AFTER")).toBe("7");
    expect(response.headers.get("x-multi")).toBe("a, b");
    expect(response.headers.has("x-missing")).toBe(false);
    expect(response.headers.get("x-missing")).toBeNull();
    expect(await response.text()).toBe("{}");
  });

  it("keeps one connection alive across requests", async () => {
    for (let i = 0; i < 5; i++) await (await nodeFetch(`${base}/x`, { method: "POST", body: "[]" })).text();
    expect(seen.map((s) => s.socket)).toEqual([1, 1, 1, 1, 1]);
  });

  it("gives 204 a null body", async () => {
    answer = (_request, response) => response.writeHead(204).end();
    const response = await nodeFetch(`${base}/x`);
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it("rejects with the signal's reason when aborted mid-request", async () => {
    answer = () => {}; // never answers
    const controller = new AbortController();
    const pending = nodeFetch(`${base}/x`, { method: "POST", body: "[]", signal: controller.signal });
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    controller.abort(new Error("deadline"));
    await expect(pending).rejects.toThrow("deadline");
  });

  it("rejects when nothing listens", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    await expect(nodeFetch(`http://127.0.0.1:${port}/x`)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe("the Node entry", () => {
  it("createClient sends batches over node:http", async () => {
    const client = createClient({ publishableKey: "mw_pub_k", endpoint: base, flushAt: 2 });
    const receipts = await Promise.all([1, 2, 3, 4].map((n) => client.emit({ event: "page.completed", payload: { n } })));
    await client.close();
    // undici's fetch would add these; node:http sends only what the transport set.
    expect(seen[0]!.headers["sec-fetch-mode"]).toBeUndefined();
    expect(seen[0]!.headers["user-agent"]).toBeUndefined();
    expect(seen.map((s) => JSON.parse(s.body).length)).toEqual([2, 2]);
    expect(seen[0]!.headers["x-meshes-publishable-key"]).toBe("mw_pub_k");
    expect(seen[0]!.headers["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(receipts.map((r) => r.event)).toEqual(["page.completed", "page.completed", "page.completed", "page.completed"]);
  });

  it("honours Retry-After and keeps a 207's failed record for the next request", async () => {
    const answers: Array<(request: Seen, response: ServerResponse) => void> = [
      (_request, response) => response.writeHead(429, { "retry-after": "1", "content-type": "application/json" }).end('{"message":"slow down"}'),
      (request, response) => {
        const [first] = JSON.parse(request.body) as Array<{ id: string; event: string }>;
        response.writeHead(207, { "content-type": "application/json" });
        response.end(JSON.stringify({ count: 1, error_count: 1, records: [{ id: first!.id, event: first!.event }, { message: "busy", error: "unavailable" }] }));
      },
    ];
    const fallback = answer;
    answer = (request, response) => (answers.shift() ?? fallback)(request, response);
    const client = createClient({ publishableKey: "mw_pub_k", endpoint: base, flushAt: 2, retry: { baseDelayMs: 1 } });
    const started = Date.now();
    const receipts = await Promise.all([1, 2].map((n) => client.emit({ event: "page.completed", payload: { n } })));
    await client.close();
    expect(seen.map((s) => (JSON.parse(s.body) as unknown[]).length)).toEqual([2, 2, 1]);
    expect(JSON.parse(seen[2]!.body)[0].payload).toEqual({ n: 2 });
    expect(receipts.map((r) => r.id)).toEqual(JSON.parse(seen[0]!.body).map((e: { id: string }) => e.id));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it("uses a replaced global fetch (a test's stub) instead of node:http", async () => {
    const stub = vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) => {
      const events = JSON.parse(String(init?.body)) as Array<{ id: string; event: string }>;
      return Response.json({ count: events.length, records: events.map((e) => ({ id: e.id, event: e.event })) }, { status: 201 });
    });
    vi.stubGlobal("fetch", stub);
    const client = createClient({ publishableKey: "mw_pub_k", endpoint: base });
    await client.emitAndFlush({ event: "user.signup", payload: {} });
    await client.close();
    expect(stub).toHaveBeenCalledTimes(1);
    expect(seen).toHaveLength(0);
  });

  it("EventsClient sends over node:http too", async () => {
    const client = new EventsClient("mw_pub_k", { apiBaseUrl: `${base}/api/v1` });
    const result = await client.emitBatch([{ event: "user.signup", payload: { email: "alex@northstar.io" } }]);
    expect(result.count).toBe(1);
    expect(seen[0]).toMatchObject({ method: "POST", url: "/api/v1/events/bulk" });
  });
});

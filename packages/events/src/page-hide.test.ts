// Flushing when a browser page is hidden or left. A fake `document` and window listeners stand in
// for the page; the `fetch` option records each request with its init (keepalive included).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClient, type ClientOptions, type MeshworkClient } from "./index.js";

const ENDPOINT = "https://events.example.test";
const KEY = "mw_pub_page_0123456789";

type Handler = (event: { type: string }) => void;
interface Sent {
  keepalive: boolean;
  key: string;
  events: Array<{ id: string; payload: { n: number } }>;
  bytes: number;
}

const g = globalThis as Record<string, unknown>;
let handlers: Map<string, Set<Handler>>;
let doc: { visibilityState: string; addEventListener: unknown; removeEventListener: unknown };

beforeEach(() => {
  handlers = new Map();
  const add = (type: string, h: Handler) => (handlers.get(type) ?? handlers.set(type, new Set()).get(type)!).add(h);
  const remove = (type: string, h: Handler) => handlers.get(type)?.delete(h);
  // visibilitychange is listened for on the document, pagehide on the window.
  doc = { visibilityState: "visible", addEventListener: add, removeEventListener: remove };
  g.document = doc;
  g.addEventListener = add;
  g.removeEventListener = remove;
});

const clients: MeshworkClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close({ timeoutMs: 50 })));
  delete g.document;
  delete g.addEventListener;
  delete g.removeEventListener;
});

const dispatch = (type: string) => {
  for (const h of handlers.get(type) ?? []) h({ type });
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

/** A fetch that records requests; `hold` keeps answers back until `release()`. */
function recorder(options: { hold?: boolean } = {}) {
  const sent: Sent[] = [];
  const waiting: Array<() => void> = [];
  let hold = options.hold === true;
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = String(init!.body);
    const events = JSON.parse(body) as Sent["events"];
    const headers = new Headers(init!.headers);
    const query = new URL(String(input)).searchParams;
    if (init!.keepalive) {
      // CORS-simple: nothing a browser would preflight at unload.
      expect([...headers.keys()].sort()).toEqual(["accept", "content-type"]);
      expect(headers.get("content-type")).toBe("text/plain;charset=UTF-8");
      expect(query.get("publishable_key")).toBe(KEY);
    }
    const key = init!.keepalive ? query.get("idempotency_key")! : headers.get("idempotency-key")!;
    sent.push({ keepalive: init!.keepalive === true, key, events, bytes: new TextEncoder().encode(body).length });
    if (hold) await new Promise<void>((resolve) => waiting.push(resolve));
    const records = events.map((e) => ({ id: e.id, event: "step.completed", type: "event" }));
    return new Response(JSON.stringify({ count: records.length, records }), { status: 201, headers: { "content-type": "application/json" } });
  };
  const release = () => {
    hold = false;
    for (const resolve of waiting.splice(0)) resolve();
  };
  return { sent, fetch: fetch as typeof globalThis.fetch, release };
}

const make = (options: Partial<ClientOptions>) => {
  const client = createClient({ publishableKey: KEY, endpoint: ENDPOINT, flushIntervalMs: 60_000, ...options } as ClientOptions);
  clients.push(client);
  return client;
};

describe("flush when the page is hidden or left", () => {
  it("sends the queued events with keepalive on pagehide, and resolves their promises", async () => {
    const http = recorder();
    const client = make({ fetch: http.fetch });
    const receipts = [1, 2, 3].map((n) => client.emit({ event: "step.completed", payload: { n } }));
    await tick();
    expect(http.sent).toEqual([]);
    dispatch("pagehide");
    await Promise.all(receipts);
    expect(http.sent).toHaveLength(1);
    expect(http.sent[0]!.keepalive).toBe(true);
    expect(http.sent[0]!.events.map((e) => e.payload.n)).toEqual([1, 2, 3]);
  });

  it("reacts to visibilitychange only when the page became hidden", async () => {
    const http = recorder();
    const client = make({ fetch: http.fetch });
    void client.emit({ event: "step.completed", payload: { n: 1 } });
    dispatch("visibilitychange");
    await tick();
    expect(http.sent).toEqual([]);
    doc.visibilityState = "hidden";
    dispatch("visibilitychange");
    await tick();
    expect(http.sent.map((s) => s.keepalive)).toEqual([true]);
  });

  it("sends a keepalive copy of a batch in flight with the same Idempotency-Key, once", async () => {
    const http = recorder({ hold: true });
    const client = make({ fetch: http.fetch, flushAt: 2 });
    const receipts = [1, 2].map((n) => client.emit({ event: "step.completed", payload: { n } }));
    await tick();
    expect(http.sent.map((s) => s.keepalive)).toEqual([false]);
    doc.visibilityState = "hidden";
    dispatch("visibilitychange");
    dispatch("pagehide");
    await tick();
    expect(http.sent.map((s) => s.keepalive)).toEqual([false, true]);
    expect(http.sent[1]!.key).toBe(http.sent[0]!.key);
    expect(http.sent[1]!.events).toEqual(http.sent[0]!.events);
    http.release();
    await Promise.all(receipts);
  });

  it("keeps keepalive bodies under 64 KiB in total; the rest goes once the page is back", async () => {
    const http = recorder({ hold: true });
    const client = make({ fetch: http.fetch, flushAt: 10 });
    const filler = "x".repeat(1500);
    const receipts = Array.from({ length: 80 }, (_, n) => client.emit({ event: "step.completed", payload: { n, filler } }));
    dispatch("pagehide");
    await tick();
    const kept = http.sent.filter((s) => s.keepalive);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.reduce((sum, s) => sum + s.bytes, 0)).toBeLessThanOrEqual(64 * 1024);
    const first = http.sent.flatMap((s) => s.events.map((e) => e.payload.n));
    expect(first.length).toBeLessThan(80);
    http.release();
    await client.flush();
    await Promise.all(receipts);
    const all = http.sent.flatMap((s) => s.events.map((e) => e.payload.n));
    expect(new Set(all).size).toBe(80);
    expect(all).toHaveLength(80);
  });

  it("stops listening on close, and not at all with flushOnHide: false or in-process", async () => {
    const http = recorder();
    const client = make({ fetch: http.fetch });
    expect(handlers.get("pagehide")?.size).toBe(1);
    await client.close({ timeoutMs: 50 });
    expect(handlers.get("pagehide")?.size).toBe(0);
    make({ fetch: http.fetch, flushOnHide: false });
    make({ endpoint: undefined, engine: { ingest: async () => ({ count: 0, records: [] }) } } as Partial<ClientOptions>);
    expect(handlers.get("pagehide")?.size).toBe(0);
    expect(handlers.get("visibilitychange")?.size).toBe(0);
  });
});

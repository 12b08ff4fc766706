import { http, HttpResponse } from "msw";
import type { setupServer } from "msw/node";
import type { StoredEvent, WireEvent } from "../types.js";

export const ENDPOINT = "https://events.test";
export const KEY = "mw_pub_test_key";

/** One request the fake endpoint received. */
export interface Received {
  url: string;
  headers: Record<string, string>;
  key: string | null;
  events: WireEvent[];
}

export type Responder = (request: Received, index: number) => Response | Promise<Response>;

/** The stored record the endpoint answers for an event, in the Meshes shape. */
export const storedOf = (event: WireEvent): StoredEvent => ({
  id: event.id,
  type: "event",
  event: event.event,
  workspace: "ws_test",
  created_by: "publishable_key",
  created_at: "2025-01-01T00:00:00.000Z",
  resource: event.resource ?? "global",
  resource_id: event.resource_id ?? null,
});

export const created = (request: Received) =>
  HttpResponse.json({ count: request.events.length, records: request.events.map(storedOf) }, { status: 201 });

/**
 * A fake bulk endpoint on msw: records what was sent, answers through a swappable responder
 * (201 with every record by default), and keeps the set of ids it stored.
 */
export function bulkSink(server: ReturnType<typeof setupServer>, base = ENDPOINT) {
  const received: Received[] = [];
  const stored = new Map<string, number>();
  let responder: Responder = created;
  server.use(
    http.post(`${base}/api/v1/events/bulk`, async ({ request }) => {
      const events = (await request.json()) as WireEvent[];
      const entry: Received = {
        url: request.url,
        headers: Object.fromEntries(request.headers),
        key: request.headers.get("idempotency-key"),
        events,
      };
      received.push(entry);
      const response = await responder(entry, received.length - 1);
      if (response.status === 201 || response.status === 200) {
        for (const event of events) stored.set(event.id, (stored.get(event.id) ?? 0) + 1);
      } else if (response.status === 207) {
        const body = (await response.clone().json()) as { records: Array<{ id?: string; message?: string }> };
        body.records.forEach((record, i) => {
          if (!record.message) stored.set(events[i]!.id, (stored.get(events[i]!.id) ?? 0) + 1);
        });
      }
      return response;
    }),
  );
  return {
    received,
    stored,
    respond(next: Responder) {
      responder = next;
    },
    /** All event ids sent, in order, retries included. */
    sentIds: () => received.flatMap((r) => r.events.map((e) => e.id)),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds (real timers), failing after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await sleep(5);
  }
}

/** Lets pending I/O (msw handlers, response bodies) run without moving fake clocks. */
export async function io(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A promise with its resolve exposed, to hold a response until the test releases it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

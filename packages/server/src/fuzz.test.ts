// Property-based: random and malformed bodies, headers and sizes thrown at the ingestion and
// management endpoints in-process. The server never answers 5xx, never throws, and every event it
// accepts (2xx) was a valid event and is stored as sent.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS, KEYS, SECRETS, startServer } from "./__fixtures__/setup.js";
import { mintManagementToken, type MeshworkServer } from "./index.js";

let server: MeshworkServer;
let dir: string;
const MAX_BODY = 16 * 1024;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "meshwork-fuzz-"));
  // No dashboard: ".." segments climb out of /api/v1 to "/", whose HTML (or 503 when unbuilt) is not under test here.
  server = await startServer({ db: join(dir, "fuzz.db"), maxBodyBytes: MAX_BODY, dashboard: false });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const WORKSPACE_OF: Record<string, string> = { [KEYS.acme]: "acme-prod", [KEYS.globex]: "globex-prod" };

function depth(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let max = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) max = Math.max(max, depth(v));
  return max + 1;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const wellFormed = (v: string) => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(v);
const optionalText = (v: unknown) => v === undefined || v === null || (typeof v === "string" && v.length >= 1 && v.length <= 256 && wellFormed(v));

/** The oracle: what the wire protocol calls a valid event for this workspace. */
function isValidEvent(e: unknown, workspace: string): boolean {
  if (!isPlainObject(e)) return false;
  if (typeof e.event !== "string" || e.event.trim() === "" || e.event.length > 256 || !wellFormed(e.event)) return false;
  if (!isPlainObject(e.payload) || depth(e.payload) > 64) return false;
  if (e.id !== undefined && !(typeof e.id === "string" && e.id.length >= 1 && e.id.length <= 256 && wellFormed(e.id))) return false;
  if (!optionalText(e.resource) || !optionalText(e.resource_id)) return false;
  if (e.workspace !== undefined && (e.workspace !== workspace || !wellFormed(workspace))) return false;
  return true;
}

function deepPayload(levels: number): Record<string, unknown> {
  let p: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < levels; i++) p = { n: p };
  return p;
}

const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: "grapheme", maxLength: 10 }), fc.constantFrom("", " ", "user.signup", "deal.won", "x".repeat(300), "\u0000", "\ud800"));
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const payloadArb = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, [], "payload", 7, deepPayload(70), deepPayload(60), { __proto__: { polluted: true } }, JSON.parse('{"__proto__":{"x":1}}')),
);
const eventArb = fc.oneof(
  fc.record(
    {
      event: fc.oneof(text, fc.integer(), fc.constant(undefined)),
      payload: payloadArb,
      id: maybe(fc.oneof(fc.uuid(), text, fc.integer())),
      resource: maybe(fc.oneof(text, fc.constant(null), fc.integer())),
      resource_id: maybe(fc.oneof(text, fc.constant(null), fc.boolean())),
      workspace: maybe(fc.constantFrom("acme-prod", "globex-prod", "nope")),
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
/** Mostly well-formed events, each field sometimes broken, so both sides of the oracle are reached. */
const nearlyValidArb = fc
  .record({
    event: fc.constantFrom("user.signup", "deal.won", "page.completed", "custom.thing", "emoji.😀", "nul.\u0000.x", "lone.\ud800"),
    payload: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
    id: maybe(fc.oneof(fc.uuid(), fc.constantFrom("dup-1", "dup-2", "nul-\u0000-id", "lone-\udc00-id", "pair-\ud83d\ude00"))),
    resource: maybe(fc.constantFrom("onboarding", null)),
    resource_id: maybe(fc.constantFrom("step-1", null)),
    broken: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom("event", "payload", "id", "resource", "workspace", "depth") }),
  })
  .map(({ broken, ...e }) => {
    const out: Record<string, unknown> = { ...e };
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    if (broken === "event") out.event = "   ";
    if (broken === "payload") out.payload = ["not", "an", "object"];
    if (broken === "id") out.id = "";
    if (broken === "resource") out.resource = 42;
    if (broken === "workspace") out.workspace = "someone-else";
    if (broken === "depth") out.payload = deepPayload(70);
    return out;
  });
const someEvent = fc.oneof({ arbitrary: nearlyValidArb, weight: 4 }, { arbitrary: eventArb, weight: 1 });
const bodyArb = fc.oneof(
  { arbitrary: someEvent.map((e) => JSON.stringify(e) ?? ""), weight: 3 },
  { arbitrary: fc.array(someEvent, { minLength: 1, maxLength: 20 }).map((list) => JSON.stringify(list)), weight: 4 },
  fc.array(eventArb, { minLength: 0, maxLength: 110 }).map((list) => JSON.stringify(list)),
  fc.jsonValue().map((v) => JSON.stringify(v) ?? ""),
  fc.string({ maxLength: 200 }),
  fc.constantFrom("", "{", "[", "[]", "null", "[null]", '{"event":"user.signup","payload":{}}', "\ufeff[]", "x".repeat(MAX_BODY + 10)),
  fc.integer({ min: MAX_BODY - 200, max: MAX_BODY + 2000 }).map((n) => JSON.stringify([{ event: "user.signup", payload: { blob: "x".repeat(n) } }])),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => new Uint8Array(bytes)),
);
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });

describe("fuzz: ingestion", () => {
  it("never 5xx, never accepts an invalid event, and stores what it accepts", async () => {
    const seen = { stored: 0, refused: 0, statuses: new Set<number>() };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          // Aimed: a known key and the body shape the route wants, with fields sometimes broken.
          {
            weight: 3,
            arbitrary: fc.record({
              path: fc.constantFrom("/api/v1/events", "/api/v1/events/bulk"),
              method: fc.constant("POST"),
              key: fc.constantFrom<string>(KEYS.acme, KEYS.globex),
              withKey: fc.constant(true),
              idempotencyKey: fc.oneof(fc.constant(undefined), fc.constant(undefined), fc.uuid(), fc.constantFrom("k1", "k2")),
              contentType: fc.constantFrom("application/json", "text/plain", ""),
              origin: maybe(fc.constantFrom("https://app.example.com")),
              body: fc.constant<string | Uint8Array<ArrayBuffer>>(""),
              single: someEvent,
              bulk: fc.array(someEvent, { minLength: 1, maxLength: 20 }),
              pad: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: MAX_BODY - 100, max: MAX_BODY * 2 }) }),
            }).map(({ single, bulk, pad, ...r }) => {
              const events = pad === null ? (r.path.endsWith("bulk") ? bulk : single) : { event: "user.signup", payload: { blob: "x".repeat(pad) } };
              return { ...r, body: JSON.stringify(r.path.endsWith("bulk") && pad !== null ? [events] : events) as string | Uint8Array<ArrayBuffer> };
            }),
          },
          // Wild: anything at all.
          {
            weight: 2,
            arbitrary: fc.record({
              path: fc.constantFrom("/api/v1/events", "/api/v1/events/bulk", "/api/v1/events/bulk/", "/api/v1/events?x=1"),
              method: fc.constantFrom("POST", "POST", "POST", "PUT", "GET", "OPTIONS", "DELETE"),
              key: fc.oneof({ arbitrary: fc.constantFrom<string>(KEYS.acme, KEYS.globex, "", "mw_pub_unknown_0000"), weight: 4 }, { arbitrary: headerValue, weight: 1 }),
              withKey: fc.boolean(),
              idempotencyKey: maybe(fc.oneof(headerValue, fc.constantFrom("k1", "k2", "k3"))),
              contentType: fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""),
              origin: maybe(fc.constantFrom("https://app.example.com", "null")),
              body: bodyArb,
            }),
          },
        ),
        async (req) => {
          const headers: Record<string, string> = {};
          if (req.withKey) headers["x-meshes-publishable-key"] = req.key;
          if (req.idempotencyKey !== undefined) headers["idempotency-key"] = req.idempotencyKey;
          if (req.contentType) headers["content-type"] = req.contentType;
          if (req.origin) headers.origin = req.origin;
          const hasBody = req.method !== "GET" && req.method !== "OPTIONS";
          const res = await server.app.request(req.path, { method: req.method, headers, ...(hasBody && { body: req.body }) });
          seen.statuses.add(res.status);
          expect(res.status).toBeLessThan(500);
          const raw = await res.text();
          if (res.status === 204 || (req.method === "OPTIONS" && res.status < 300)) return;
          const answer = JSON.parse(raw) as Record<string, unknown>;
          if (res.status >= 400) {
            expect(typeof answer.message).toBe("string");
            expect(typeof answer.error).toBe("string");
            return;
          }
          // Accepted: every stored record was a valid event, and it is in the store.
          const workspace = WORKSPACE_OF[req.key]!;
          expect(workspace).toBeDefined();
          const input = JSON.parse(typeof req.body === "string" ? req.body : new TextDecoder().decode(req.body)) as unknown;
          const sent = Array.isArray(input) && !req.path.startsWith("/api/v1/events?") && req.path.includes("bulk") ? input : [input];
          const records = (answer.records ?? [answer.event]) as Array<Record<string, unknown>>;
          expect(records).toHaveLength(sent.length);
          for (let i = 0; i < sent.length; i++) {
            const record = records[i]!;
            const valid = isValidEvent(sent[i], workspace);
            if (record.type === "event") {
              expect(valid, JSON.stringify(sent[i])).toBe(true);
              const stored = await server.engine.events.get(record.id as string, { workspace });
              expect(stored, `event ${String(record.id)} was acknowledged but is not stored`).toBeDefined();
              seen.stored++;
              const event = sent[i] as { id?: string; payload: unknown; event: string };
              expect(stored!.event).toBe(record.event);
              // A caller-chosen id may have been stored earlier with another payload (dedup keeps the first).
              if (event.id === undefined) expect(isDeepStrictEqual(stored!.payload, JSON.parse(JSON.stringify(event.payload)))).toBe(true);
            } else {
              expect(record).toMatchObject({ message: expect.any(String), error: expect.any(String) });
              expect(valid, `a valid event was refused: ${JSON.stringify(sent[i])} → ${JSON.stringify(record)}`).toBe(false);
              seen.refused++;
            }
          }
        },
      ),
      { numRuns: 250 },
    );
    // The property is not vacuous: events were stored and refused, and every status was reached.
    expect(seen.stored, "stored").toBeGreaterThan(100);
    expect(seen.refused, "refused").toBeGreaterThan(30);
    for (const status of [201, 207, 400, 401, 404, 413]) expect(seen.statuses, [...seen.statuses].join()).toContain(status);
  }, 60_000);
});

const segment = fc.oneof(
  fc.constantFrom("events", "rules", "attempts", "retry", "cancel", "payload", "workspaces", "connections", "replay", "acme-prod", "globex-prod", "acme-signup-hook", "bulk"),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom("%", "%zz", "%E0%A4%A", "..", "%00", "%2F", "a%20b", "😀"),
);
const queryArb = fc
  .array(
    fc.tuple(
      fc.constantFrom("status", "limit", "cursor", "since", "until", "workspace", "event", "resource", "resource_id", "x"),
      fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("failed", "0", "-1", "500", "501", "1e3", "1h", "%", "failed,pending", "czo5OTk5OTk5OTk5OTk5OTk5OTk5OQ")),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}` : ""));

describe("fuzz: management", () => {
  it("never 5xx for any path, query, token or body", async () => {
    const now = Date.now();
    const tokens = [
      `Bearer ${await mintManagementToken(ACCESS.acme)}`,
      `Bearer ${await mintManagementToken(ACCESS.both)}`,
      `Bearer ${await mintManagementToken({ ...ACCESS.acme, now: now - 3_600_000 })}`,
      `Bearer ${await mintManagementToken({ accessKey: ACCESS.acme.accessKey, secretKey: SECRETS.globexSecretKey })}`,
      "Bearer ",
      "bearer a.b.c",
      "",
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom("GET", "GET", "POST", "DELETE", "PATCH"),
          segments: fc.array(segment, { minLength: 0, maxLength: 6 }),
          query: queryArb,
          token: fc.oneof(fc.constantFrom(...tokens), headerValue.map((v) => `Bearer ${v}`)),
          body: maybe(fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"), fc.string({ maxLength: 50 }), fc.constantFrom('{"dry_run":true}', '{"workspace":"acme-prod","dry_run":true,"since":"1h"}'))),
        }),
        async (req) => {
          const path = `/api/v1/${req.segments.join("/")}${req.query}`;
          const headers: Record<string, string> = req.token ? { authorization: req.token } : {};
          const withBody = req.body !== undefined && req.method !== "GET";
          const res = await server.app.request(path, { method: req.method, headers, ...(withBody && { body: req.body }) });
          expect(res.status, `${req.method} ${path}`).toBeLessThan(500);
          const answer = JSON.parse(await res.text()) as Record<string, unknown>;
          if (res.status >= 400) expect(typeof answer.error).toBe("string");
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);
});

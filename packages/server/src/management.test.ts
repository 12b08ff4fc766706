import type { EventSummary, Page } from "@meshwork/rules";
import { afterEach, describe, expect, it } from "vitest";
import { bearer, CREDENTIAL_STRINGS, get, ingestHeaders, KEYS, post, startServer, type Who } from "./__fixtures__/setup.js";
import type { MeshworkServer } from "./index.js";

let server: MeshworkServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type RuleEvent = { rule: string; rule_id: string; status: string; attempt_count: number; last_outcome: string | null; connection: string };
type EventBody = EventSummary & { rule_events: RuleEvent[]; payload?: Record<string, unknown> };

async function emit(s: MeshworkServer, events: unknown[], key: string = KEYS.acme): Promise<string[]> {
  const res = await post(s, "/api/v1/events/bulk", events, ingestHeaders(key));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { records: Array<{ id: string }> };
  return body.records.map((r) => r.id);
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  return JSON.parse(text) as T;
}

async function send(s: MeshworkServer, method: string, path: string, who: Who = "acme", body?: unknown) {
  return s.app.request(path, {
    method,
    headers: { ...(await bearer(who)), ...(body !== undefined && { "content-type": "application/json" }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
}

describe("GET /api/v1/events", () => {
  it("pages through every event with cursors, newest first, without repeats", async () => {
    server = await startServer();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(...(await emit(server, Array.from({ length: 5 }, (_, k) => ({ event: "user.signup", payload: { email: `u${i * 5 + k}@x.io` } })))));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page<EventSummary> = await json(await get(server, `/api/v1/events?limit=10${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`));
      expect(page.limit).toBe(10);
      expect(page.count).toBe(page.records.length);
      seen.push(...page.records.map((r) => r.id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());
  });

  it("filters by status, event, resource and resource_id, across pages", async () => {
    server = await startServer();
    await emit(server, [
      ...Array.from({ length: 7 }, (_, i) => ({ event: "page.completed", resource: "onboarding", resource_id: "step-1", payload: { i } })),
      ...Array.from({ length: 3 }, (_, i) => ({ event: "page.completed", resource: "onboarding", resource_id: "step-2", payload: { i } })),
      { event: "user.signup", payload: { email: "a@x.io" } },
    ]);
    await server.engine.drain({ timeoutMs: 5000 });
    const collect = async (query: string) => {
      const out: EventSummary[] = [];
      let cursor: string | null = null;
      do {
        const page: Page<EventSummary> = await json(await get(server!, `/api/v1/events?${query}&limit=2${cursor ? `&cursor=${cursor}` : ""}`));
        out.push(...page.records);
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    };
    expect(await collect("resource_id=step-1")).toHaveLength(7);
    expect((await collect("event=page.completed&resource=onboarding&resource_id=step-2")).every((e) => e.resource_id === "step-2")).toBe(true);
    expect(await collect("event=user.signup")).toHaveLength(1);
    // No rule matches page.completed, so those events are completed at once; user.signup was delivered.
    expect(await collect("status=completed")).toHaveLength(11);
    expect(await collect("status=failed,pending")).toHaveLength(0);
  });

  it("answers 400 naming the field for a bad query", async () => {
    server = await startServer();
    for (const [query, field] of [
      ["status=broken", "status"],
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["limit=ten", "limit"],
      ["since=yesterday-ish", "since"],
      ["event=", "event"],
    ] as const) {
      const res = await get(server, `/api/v1/events?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ field });
    }
    const cursor = await get(server, "/api/v1/events?cursor=not-a-cursor");
    expect(cursor.status).toBe(400);
    expect(await cursor.json()).toMatchObject({ error: "invalid_cursor" });
  });
});

describe("GET /api/v1/events/{id}", () => {
  it("shows the event with its rule_events; /payload adds the payload; attempts are listed", async () => {
    server = await startServer();
    const [id] = await emit(server, [{ event: "user.signup", payload: { email: "alex@northstar.io", plan: "pro" } }]);
    await server.engine.drain({ timeoutMs: 5000 });
    const event: EventBody = await json(await get(server, `/api/v1/events/${id}`));
    expect(event).toMatchObject({ id, event: "user.signup", workspace: "acme-prod", status: "completed", total_rules: 2, completed_count: 2 });
    expect(event.payload).toBeUndefined();
    expect(event.rule_events.map((r) => [r.rule, r.rule_id, r.status]).sort()).toEqual([
      ["acme-signup-hook", "acme-signup-hook", "completed"],
      ["acme-signup-hubspot", "acme-signup-hubspot", "completed"],
    ]);
    const withPayload: EventBody = await json(await get(server, `/api/v1/events/${id}/payload`));
    expect(withPayload.payload).toEqual({ email: "alex@northstar.io", plan: "pro" });
    const attempts: { count: number; records: Array<{ attempt: number; outcome: string; status: number }> } = await json(
      await get(server, `/api/v1/events/${id}/rules/acme-signup-hubspot/attempts`),
    );
    expect(attempts.count).toBe(1);
    expect(attempts.records[0]).toMatchObject({ attempt: 1, outcome: "delivered" });
  });

  it("answers 404 for an unknown event or a rule that made no delivery", async () => {
    server = await startServer();
    const [id] = await emit(server, [{ event: "user.signup", payload: { email: "a@x.io" } }]);
    expect((await get(server, "/api/v1/events/nope")).status).toBe(404);
    expect((await get(server, `/api/v1/events/${id}/rules/acme-deal-slack/attempts`)).status).toBe(404);
    expect((await get(server, `/api/v1/events/${id}/rules/no-such-rule/attempts`)).status).toBe(404);
  });
});

describe("retry and cancel through the API", () => {
  it("cancels a delivery waiting for its retry, then retries it to completion", async () => {
    server = await startServer();
    const hook = server.engine.sandbox("acme-hook");
    hook.inject({ status: 500, times: 1 });
    const [id] = await emit(server, [{ event: "user.signup", payload: { email: "a@x.io" } }]);
    await server.engine.drain({ timeoutMs: 5000 });
    let event: EventBody = await json(await get(server, `/api/v1/events/${id}`));
    expect(event.rule_events.find((r) => r.rule === "acme-signup-hook")).toMatchObject({ status: "retrying", attempt_count: 1, last_outcome: "rejected_server_error" });

    const canceled: RuleEvent = await json(await send(server, "POST", `/api/v1/events/${id}/rules/acme-signup-hook/cancel`));
    expect(canceled.status).toBe("canceled");
    const again = await send(server, "POST", `/api/v1/events/${id}/rules/acme-signup-hook/cancel`);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: "invalid_state" });

    const retried: RuleEvent = await json(await send(server, "POST", `/api/v1/events/${id}/rules/acme-signup-hook/retry`));
    expect(["pending", "processing"]).toContain(retried.status);
    await server.engine.drain({ timeoutMs: 5000 });
    event = await json(await get(server, `/api/v1/events/${id}`));
    expect(event.rule_events.find((r) => r.rule === "acme-signup-hook")).toMatchObject({ status: "completed", attempt_count: 2 });
    expect(hook.requests).toHaveLength(2);
    const attempts: { records: Array<{ outcome: string }> } = await json(await get(server, `/api/v1/events/${id}/rules/acme-signup-hook/attempts`));
    expect(attempts.records.map((a) => a.outcome)).toEqual(["rejected_server_error", "delivered"]);
  });

  it("retries a failed delivery, and refuses to retry a completed one (409)", async () => {
    server = await startServer();
    server.engine.sandbox("acme-hook").inject({ status: 400, times: 1 });
    const [id] = await emit(server, [{ event: "user.signup", payload: { email: "a@x.io" } }]);
    await server.engine.drain({ timeoutMs: 5000 });
    let event: EventBody = await json(await get(server, `/api/v1/events/${id}`));
    expect(event.status).toBe("failed");
    await json(await send(server, "POST", `/api/v1/events/${id}/rules/acme-signup-hook/retry`));
    await server.engine.drain({ timeoutMs: 5000 });
    event = await json(await get(server, `/api/v1/events/${id}`));
    expect(event.status).toBe("completed");
    const completed = await send(server, "POST", `/api/v1/events/${id}/rules/acme-signup-hook/retry`);
    expect(completed.status).toBe(409);
  });

  it("cancels every open delivery of an event", async () => {
    server = await startServer();
    server.engine.sandbox("acme-hook").inject({ status: 503, times: 1 });
    server.engine.sandbox("acme-hubspot").inject({ status: 503, times: 1 });
    const [id] = await emit(server, [{ event: "user.signup", payload: { email: "a@x.io" } }]);
    await server.engine.drain({ timeoutMs: 5000 });
    const result: { count: number; records: RuleEvent[] } = await json(await send(server, "POST", `/api/v1/events/${id}/cancel`));
    expect(result.count).toBe(2);
    expect(result.records.every((r) => r.status === "canceled")).toBe(true);
    const event: EventBody = await json(await get(server, `/api/v1/events/${id}`));
    expect(event.status).toBe("canceled");
  });
});

describe("POST /api/v1/replay", () => {
  it("counts with dry_run, then sends failed deliveries again", async () => {
    server = await startServer();
    server.engine.sandbox("acme-hook").inject({ status: 401, times: 3 });
    await emit(server, Array.from({ length: 3 }, (_, i) => ({ event: "user.signup", payload: { email: `u${i}@x.io` } })));
    await server.engine.drain({ timeoutMs: 5000 });
    const dry: { count: number; dry_run: boolean } = await json(await send(server, "POST", "/api/v1/replay", "acme", { status: "failed", since: "1h", dry_run: true }));
    expect(dry).toEqual({ count: 3, dry_run: true });
    expect((await server.engine.events.list({ workspace: "acme-prod", status: "failed" })).count).toBe(3);
    const outcome: { count: number } = await json(await send(server, "POST", "/api/v1/replay", "acme", { outcome: "auth_failed", connection: "acme-hubspot", dry_run: true }));
    expect(outcome.count).toBe(0);
    const real: { count: number; dry_run: boolean } = await json(await send(server, "POST", "/api/v1/replay", "acme", { connection: "acme-hook" }));
    expect(real).toEqual({ count: 3, dry_run: false });
    await server.engine.drain({ timeoutMs: 5000 });
    expect((await server.engine.events.list({ workspace: "acme-prod", status: "completed" })).count).toBe(3);
  });

  it("checks the body and the workspace", async () => {
    server = await startServer();
    for (const [body, field] of [
      [{ status: "pending" }, "status"],
      [{ outcome: "exploded" }, "outcome"],
      [{ since: "whenever" }, "since"],
      [{ dry_run: "yes" }, "dry_run"],
      [{ connection: 5 }, "connection"],
    ] as const) {
      const res = await send(server, "POST", "/api/v1/replay", "acme", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(await res.json()).toMatchObject({ field });
    }
    expect((await send(server, "POST", "/api/v1/replay", "both", { dry_run: true })).status).toBe(400);
    expect((await send(server, "POST", "/api/v1/replay", "acme", { workspace: "globex-prod", dry_run: true })).status).toBe(404);
    const notJson = await server.app.request("/api/v1/replay", { method: "POST", headers: { ...(await bearer("acme")), "content-type": "application/json" }, body: "{" });
    expect(notJson.status).toBe(400);
  });
});

describe("workspaces", () => {
  it("lists only the key's workspaces, with their rules and connections", async () => {
    server = await startServer();
    const mine: Page<{ id: string; publishable_keys: string[] }> = await json(await get(server, "/api/v1/workspaces"));
    expect(mine.records.map((w) => w.id)).toEqual(["acme-prod"]);
    expect(mine.records[0]!.publishable_keys[0]).not.toBe(KEYS.acme);
    const both: Page<{ id: string }> = await json(await get(server, "/api/v1/workspaces", "both"));
    expect(both.records.map((w) => w.id)).toEqual(["acme-prod", "globex-prod"]);

    const rules: Page<{ id: string; type: string; metadata: { action: string } }> = await json(await get(server, "/api/v1/workspaces/acme-prod/rules"));
    expect(rules.records.map((r) => [r.id, r.type])).toEqual([
      ["acme-signup-hook", "webhook"],
      ["acme-signup-hubspot", "hubspot"],
      ["acme-deal-slack", "slack"],
    ]);
    const filtered: Page<{ id: string }> = await json(await get(server, "/api/v1/workspaces/acme-prod/rules?event=deal.won"));
    expect(filtered.records.map((r) => r.id)).toEqual(["acme-deal-slack"]);

    const connections: Page<{ id: string; credential_fields: string[]; status: { circuit: string } }> = await json(await get(server, "/api/v1/workspaces/acme-prod/connections"));
    expect(connections.records.map((k) => k.id)).toEqual(["acme-hook", "acme-hubspot", "acme-slack"]);
    expect(connections.records[0]).toMatchObject({ credential_fields: ["headers", "secrets", "url"], status: { circuit: "closed" } });
    expect(JSON.stringify(connections)).not.toContain("credentials");

    const [id] = await emit(server, [{ event: "user.signup", payload: { email: "a@x.io" } }]);
    const events: Page<{ id: string }> = await json(await get(server, "/api/v1/workspaces/acme-prod/events"));
    expect(events.records.map((e) => e.id)).toEqual([id]);
  });
});

describe("credentials never leave the server", () => {
  it("appear in no management response, not even in attempts, errors, metrics or health", async () => {
    server = await startServer();
    // Attempts with exchanges, including failures whose messages quote the destination.
    server.engine.sandbox("acme-hook").inject({ status: 401, times: 1, body: { message: "bad token" } });
    server.engine.sandbox("acme-hubspot").inject({ status: 500, times: 1 });
    const ids = await emit(server, [
      { event: "user.signup", payload: { email: "a@x.io" } },
      { event: "user.signup", payload: { email: "b@x.io" } },
      { event: "deal.won", payload: { amount: 5 } },
    ]);
    const [globexId] = await emit(server, [{ event: "user.signup", payload: { email: "g@x.io" } }], KEYS.globex);
    await server.engine.drain({ timeoutMs: 10_000 });

    const bodies: string[] = [];
    const record = async (res: Response) => bodies.push(`${res.status} ${[...res.headers].join(" ")} ${await res.text()}`);
    for (const who of ["acme", "globex", "both"] as const) {
      for (const path of ["/api/v1/events", "/api/v1/events?limit=1", "/api/v1/workspaces", "/api/v1/workspaces/acme-prod", "/api/v1/workspaces/globex-prod"]) {
        await record(await get(server, path, who));
      }
      for (const ws of ["acme-prod", "globex-prod"]) for (const part of ["events", "rules", "connections"]) await record(await get(server, `/api/v1/workspaces/${ws}/${part}`, who));
      for (const id of [...ids, globexId!]) {
        await record(await get(server, `/api/v1/events/${id}`, who));
        await record(await get(server, `/api/v1/events/${id}/payload`, who));
        for (const rule of ["acme-signup-hook", "acme-signup-hubspot", "acme-deal-slack", "globex-signup-hook"]) {
          await record(await get(server, `/api/v1/events/${id}/rules/${rule}/attempts`, who));
        }
      }
      await record(await send(server, "POST", "/api/v1/replay", who, { workspace: "acme-prod", dry_run: true }));
    }
    await record(await send(server, "POST", `/api/v1/events/${ids[0]}/rules/acme-signup-hook/retry`, "acme"));
    await record(await send(server, "POST", `/api/v1/events/${ids[1]}/cancel`, "acme"));
    await record(await server.app.request("/api/v1/events", { headers: { authorization: "Bearer nope" } }));
    for (const path of ["/metrics", "/readyz", "/healthz"]) await record(await server.app.request(path));

    expect(bodies.length).toBeGreaterThan(100);
    // The attempts really carry exchanges, so the check is not vacuous.
    expect(bodies.some((b) => b.includes('"exchanges":[{'))).toBe(true);
    for (const body of bodies) for (const secret of CREDENTIAL_STRINGS) expect(body.includes(secret), `${secret} leaked in ${body.slice(0, 300)}`).toBe(false);
  });
});

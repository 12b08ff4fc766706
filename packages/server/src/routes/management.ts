import type { Delivery, EventDetail, EventListQuery, EventStatus, ReplayQuery, RuleConfig } from "@meshwork/rules";
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { Principal } from "../auth.js";
import { OUTCOMES } from "../dashboard-stats.js";
import { httpError, isObject, limitBody, parseJson, parseTime } from "../http.js";
import type { ServerContext } from "./context.js";

type Env = { Variables: { principal: Principal } };

const EVENT_STATUSES: readonly EventStatus[] = ["pending", "processing", "completed", "failed", "canceled"];
const REPLAY_STATUSES = ["failed", "canceled", "completed"] as const;
const MAX_FILTER_LENGTH = 256;

/** A delivery as Meshes' `rule_events` shows it (`rule` beside our `rule_id`). */
export function ruleEvent(delivery: Delivery) {
  return { ...delivery, rule: delivery.rule_id };
}

function eventBody(detail: EventDetail, withPayload: boolean) {
  const { payload, deliveries, ...summary } = detail;
  return { ...summary, rule_events: deliveries.map(ruleEvent), ...(withPayload && { payload }) };
}

const maskKey = (key: string) => (key.length > 14 ? `${key.slice(0, 12)}…` : `${key.slice(0, 4)}…`);

const notFound = (what: string) => httpError(404, "not_found", `${what} not found`);

/** The management API on the Meshes paths, authenticated by machine tokens and scoped to the key's workspaces. */
export function registerManagement(app: Hono, ctx: ServerContext): void {
  const { engine, config } = ctx;
  const workspaceIds = new Set(config.workspaces.map((w) => w.id));
  const connectionType = new Map(config.connections.map((c) => [c.id, c.type]));

  const auth: MiddlewareHandler<Env> = async (c, next) => {
    const principal = await ctx.verify(c.req.header("authorization"));
    if (ctx.managementRateLimiter) {
      const waitMs = ctx.managementRateLimiter.take(principal.accessKey, Date.now());
      if (waitMs > 0) {
        throw httpError(429, "rate_limited", "too many requests for this access key; retry after the number of seconds in Retry-After", undefined, {
          "retry-after": String(Math.ceil(waitMs / 1000)),
        });
      }
    }
    c.set("principal", principal);
    await next();
  };
  const limit = limitBody(ctx.maxBodyBytes, `the request body is larger than ${ctx.maxBodyBytes} bytes`);

  /** The key's workspaces that exist in the config, in config order. */
  const scope = (c: Context<Env>) => config.workspaces.filter((w) => c.get("principal").workspaces.has(w.id)).map((w) => w.id);

  /** The workspace named in the path, when the key may see it; 404 otherwise (existence does not leak). */
  const workspaceParam = (c: Context<Env>) => {
    const id = c.req.param("id")!;
    if (!workspaceIds.has(id) || !c.get("principal").workspaces.has(id)) throw notFound(`workspace "${id}"`);
    return id;
  };

  /** The event with this id in one of the key's workspaces; 404 otherwise. */
  const findEvent = async (c: Context<Env>, id: string): Promise<EventDetail> => {
    for (const workspace of scope(c)) {
      const detail = await engine.events.get(id, { workspace });
      if (detail) return detail;
    }
    throw notFound(`event "${id}"`);
  };

  /** The rule and event of a delivery the key may touch; 404 otherwise. */
  const findDelivery = async (c: Context<Env>): Promise<{ eventId: string; rule: RuleConfig }> => {
    const eventId = c.req.param("id")!;
    const ruleId = c.req.param("rule_id")!;
    const rule = config.rules.find((r) => r.id === ruleId);
    const missing = () => notFound(`delivery of event "${eventId}" for rule "${ruleId}"`);
    if (!rule || !c.get("principal").workspaces.has(rule.workspace)) throw missing();
    const detail = await engine.events.get(eventId, { workspace: rule.workspace });
    if (!detail || !detail.deliveries.some((d) => d.rule_id === ruleId)) throw missing();
    return { eventId, rule };
  };

  const listEvents = async (c: Context<Env>, workspaces: string[]) => {
    const query = listQuery(c);
    if (workspaces.length === 0) return c.json({ count: 0, limit: query.limit ?? 50, next_cursor: null, records: [] });
    return c.json(await engine.events.list({ ...query, workspace: workspaces }));
  };

  app.get("/api/v1/events", auth, async (c) => {
    const requested = c.req.query("workspace");
    if (requested !== undefined) {
      if (!c.get("principal").workspaces.has(requested) || !workspaceIds.has(requested)) throw notFound(`workspace "${requested}"`);
      return listEvents(c, [requested]);
    }
    return listEvents(c, scope(c));
  });

  app.get("/api/v1/events/:id", auth, async (c) => c.json(eventBody(await findEvent(c, c.req.param("id")), false)));

  app.get("/api/v1/events/:id/payload", auth, async (c) => c.json(eventBody(await findEvent(c, c.req.param("id")), true)));

  app.get("/api/v1/events/:id/rules/:rule_id/attempts", auth, async (c) => {
    const { eventId, rule } = await findDelivery(c);
    const records = await engine.attempts.list(eventId, rule.id);
    return c.json({ count: records.length, records });
  });

  app.post("/api/v1/events/:id/rules/:rule_id/retry", auth, async (c) => {
    const { eventId, rule } = await findDelivery(c);
    ctx.log.info({ event_id: eventId, rule_id: rule.id, access_key: c.get("principal").accessKey }, "delivery retried through the API");
    return c.json(ruleEvent(await engine.retry(eventId, rule.id)));
  });

  app.post("/api/v1/events/:id/rules/:rule_id/cancel", auth, async (c) => {
    const { eventId, rule } = await findDelivery(c);
    ctx.log.info({ event_id: eventId, rule_id: rule.id, access_key: c.get("principal").accessKey }, "delivery canceled through the API");
    return c.json(ruleEvent(await engine.cancel(eventId, rule.id)));
  });

  app.post("/api/v1/events/:id/cancel", auth, async (c) => {
    const detail = await findEvent(c, c.req.param("id"));
    const canceled = await engine.events.cancel(detail.id, { workspace: detail.workspace });
    ctx.log.info({ event_id: detail.id, count: canceled.length, access_key: c.get("principal").accessKey }, "event canceled through the API");
    return c.json({ count: canceled.length, records: canceled.map(ruleEvent) });
  });

  app.get("/api/v1/workspaces", auth, (c) => {
    const records = config.workspaces.filter((w) => c.get("principal").workspaces.has(w.id)).map(workspaceBody);
    return c.json({ count: records.length, limit: records.length, next_cursor: null, records });
  });

  app.get("/api/v1/workspaces/:id", auth, (c) => {
    const id = workspaceParam(c);
    return c.json(workspaceBody(config.workspaces.find((w) => w.id === id)!));
  });

  app.get("/api/v1/workspaces/:id/events", auth, (c) => listEvents(c, [workspaceParam(c)]));

  app.get("/api/v1/workspaces/:id/rules", auth, (c) => {
    const id = workspaceParam(c);
    const event = stringFilter(c.req.query("event"), "event");
    const resource = stringFilter(c.req.query("resource"), "resource");
    const resourceId = stringFilter(c.req.query("resource_id"), "resource_id");
    const records = config.rules
      .filter((r) => r.workspace === id)
      .filter((r) => (event === undefined || r.event === event) && (resource === undefined || r.resource === resource) && (resourceId === undefined || r.resource_id === resourceId))
      .map((r) => ({
        id: r.id,
        type: connectionType.get(r.connection) ?? null,
        workspace: r.workspace,
        connection: r.connection,
        event: r.event,
        resource: r.resource ?? null,
        resource_id: r.resource_id ?? null,
        metadata: r.metadata,
        mapping: r.mapping ?? null,
        when: r.when ?? null,
        active: r.active !== false,
      }));
    return c.json({ count: records.length, limit: records.length, next_cursor: null, records });
  });

  app.get("/api/v1/workspaces/:id/connections", auth, (c) => {
    const id = workspaceParam(c);
    const stats = new Map(engine.stats().connections.map((s) => [s.id, s]));
    const records = config.connections
      .filter((k) => k.workspace === id)
      .map((k) => {
        const s = stats.get(k.id);
        return {
          id: k.id,
          type: k.type,
          workspace: k.workspace,
          name: k.name,
          mode: k.mode,
          // Names only: credential values never leave the server.
          credential_fields: Object.keys(k.credentials).sort(),
          status: s ? { circuit: s.circuit, disabled: s.disabled, in_flight: s.inFlight, queued: s.queued } : null,
        };
      });
    return c.json({ count: records.length, limit: records.length, next_cursor: null, records });
  });

  app.post("/api/v1/replay", auth, limit, async (c) => {
    const body = parseJson(await c.req.text());
    if (!isObject(body)) throw httpError(400, "invalid_request", "body: must be a JSON object { workspace, status?, connection?, rule?, event?, outcome?, since?, until?, dry_run? }", "body");
    const mine = scope(c);
    let workspace = body.workspace;
    if (workspace === undefined && mine.length === 1) workspace = mine[0];
    if (typeof workspace !== "string" || workspace === "") throw httpError(400, "invalid_request", "workspace: is required (the key can reach several workspaces)", "workspace");
    if (!mine.includes(workspace)) throw notFound(`workspace "${workspace}"`);
    const query: ReplayQuery = { workspace };
    if (body.status !== undefined) query.status = enumList(body.status, REPLAY_STATUSES, "status");
    if (body.outcome !== undefined) query.outcome = enumList(body.outcome, OUTCOMES, "outcome");
    for (const field of ["connection", "rule", "event"] as const) {
      const value = body[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string" || value === "" || value.length > MAX_FILTER_LENGTH) throw httpError(400, "invalid_request", `${field}: must be a non-empty string`, field);
      query[field] = value;
    }
    const now = Date.now();
    if (body.since !== undefined && body.since !== null) query.since = parseTime(body.since, "since", now);
    if (body.until !== undefined && body.until !== null) query.until = parseTime(body.until, "until", now);
    const dry = body.dry_run ?? body.dryRun ?? false;
    if (typeof dry !== "boolean") throw httpError(400, "invalid_request", "dry_run: must be true or false", "dry_run");
    const { count } = await engine.replay(query, { dryRun: dry });
    if (!dry) ctx.log.info({ ...query, count, access_key: c.get("principal").accessKey }, "deliveries replayed through the API");
    return c.json({ count, dry_run: dry });
  });
}

function workspaceBody(w: { id: string; name: string; environment: string; description?: string | null; publishableKeys: string[] }) {
  return {
    id: w.id,
    type: "workspace",
    name: w.name,
    environment: w.environment,
    description: w.description ?? null,
    publishable_keys: w.publishableKeys.map(maskKey),
  };
}

function stringFilter(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (value === "" || value.length > MAX_FILTER_LENGTH) throw httpError(400, "invalid_request", `${field}: must be 1 to ${MAX_FILTER_LENGTH} characters`, field);
  return value;
}

function enumList<T extends string>(value: unknown, allowed: readonly T[], field: string): T[] {
  const values = typeof value === "string" ? value.split(",").map((v) => v.trim()) : value;
  if (!Array.isArray(values) || values.length === 0 || values.some((v) => typeof v !== "string" || !allowed.includes(v as T))) {
    throw httpError(400, "invalid_request", `${field}: must be one or more of ${allowed.join(", ")}`, field);
  }
  return values as T[];
}

/** The query of an event listing, checked: every bad field is a 400 that names it. */
function listQuery(c: Context<Env>): Omit<EventListQuery, "workspace"> {
  const query: Omit<EventListQuery, "workspace"> = {};
  const statuses = c.req.queries("status");
  if (statuses) query.status = enumList(statuses.flatMap((s) => s.split(",")), EVENT_STATUSES, "status");
  for (const field of ["event", "resource", "resource_id"] as const) {
    const value = stringFilter(c.req.query(field), field);
    if (value !== undefined) query[field] = value;
  }
  const limit = c.req.query("limit");
  if (limit !== undefined) {
    if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 500) throw httpError(400, "invalid_request", "limit: must be an integer from 1 to 500", "limit");
    query.limit = Number(limit);
  }
  const cursor = c.req.query("cursor");
  if (cursor !== undefined && cursor !== "") {
    if (cursor.length > 200) throw httpError(400, "invalid_cursor", "cursor: is not one this server issued", "cursor");
    query.cursor = cursor;
  }
  const now = Date.now();
  const since = c.req.query("since");
  if (since !== undefined) query.since = parseTime(since, "since", now);
  const until = c.req.query("until");
  if (until !== undefined) query.until = parseTime(until, "until", now);
  return query;
}

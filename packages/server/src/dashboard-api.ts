import type { EventListQuery, EventStatus, EventSummary } from "@meshwork/rules";
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { Principal } from "./auth.js";
import type { DeliveryStats } from "./dashboard-stats.js";
import { OUTCOMES } from "./dashboard-stats.js";
import { httpError, parseTime } from "./http.js";
import type { ServerContext } from "./routes/context.js";

type Env = { Variables: { principal: Principal } };

const EVENT_STATUSES: readonly EventStatus[] = ["pending", "processing", "completed", "failed", "canceled"];
const MAX_FILTER_LENGTH = 256;
/** Events one request may look at when a destination filter thins them out. */
const MAX_SCANNED = 1000;
const WINDOWS: Record<string, { windowMs: number; bucketMs: number }> = {
  "15m": { windowMs: 15 * 60_000, bucketMs: 60_000 },
  "1h": { windowMs: 3600_000, bucketMs: 2 * 60_000 },
  "6h": { windowMs: 6 * 3600_000, bucketMs: 10 * 60_000 },
  "24h": { windowMs: 24 * 3600_000, bucketMs: 30 * 60_000 },
};

const notFound = (what: string) => httpError(404, "not_found", `${what} not found`);

function filter(c: Context, field: string): string | undefined {
  const value = c.req.query(field);
  if (value === undefined || value === "") return undefined;
  if (value.length > MAX_FILTER_LENGTH) throw httpError(400, "invalid_request", `${field}: must be at most ${MAX_FILTER_LENGTH} characters`, field);
  return value;
}

/**
 * The read endpoints the dashboard needs beyond the Meshes management API, under
 * `/api/v1/dashboard` and behind the same machine tokens and workspace scoping:
 * `GET events` (the Meshes listing plus each event's deliveries and a `connection` filter),
 * `GET connections` (circuit, queue and recent success rate of each connection) and
 * `GET series` (attempts per time bucket by outcome).
 */
export function registerDashboardApi(app: Hono, ctx: ServerContext, stats: DeliveryStats): void {
  const { engine, config } = ctx;
  const workspaceIds = new Set(config.workspaces.map((w) => w.id));

  const auth: MiddlewareHandler<Env> = async (c, next) => {
    const principal = await ctx.verify(c.req.header("authorization"));
    const waitMs = ctx.managementRateLimiter?.take(principal.accessKey, Date.now()) ?? 0;
    if (waitMs > 0) {
      throw httpError(429, "rate_limited", "too many requests for this access key; retry after the number of seconds in Retry-After", undefined, {
        "retry-after": String(Math.ceil(waitMs / 1000)),
      });
    }
    c.set("principal", principal);
    await next();
  };

  /** The `workspace` query parameter, which the key must reach; optional when it reaches exactly one. */
  const workspaceOf = (c: Context<Env>): string => {
    const principal = c.get("principal");
    const requested = c.req.query("workspace");
    if (requested === undefined || requested === "") {
      const mine = config.workspaces.filter((w) => principal.workspaces.has(w.id));
      if (mine.length === 1) return mine[0]!.id;
      throw httpError(400, "invalid_request", "workspace: is required (the key reaches several workspaces, or none)", "workspace");
    }
    if (!workspaceIds.has(requested) || !principal.workspaces.has(requested)) throw notFound(`workspace "${requested}"`);
    return requested;
  };

  app.get("/api/v1/dashboard/events", auth, async (c) => {
    const workspace = workspaceOf(c);
    const query: EventListQuery = { workspace };
    const statuses = c.req.queries("status")?.flatMap((s) => s.split(",")).filter(Boolean);
    if (statuses?.length) {
      if (statuses.some((s) => !EVENT_STATUSES.includes(s as EventStatus))) {
        throw httpError(400, "invalid_request", `status: must be one or more of ${EVENT_STATUSES.join(", ")}`, "status");
      }
      query.status = statuses as EventStatus[];
    }
    for (const field of ["event", "resource", "resource_id"] as const) {
      const value = filter(c, field);
      if (value !== undefined) query[field] = value;
    }
    const now = Date.now();
    const since = filter(c, "since");
    if (since !== undefined) query.since = parseTime(since, "since", now);
    const until = filter(c, "until");
    if (until !== undefined) query.until = parseTime(until, "until", now);
    const limitText = c.req.query("limit") ?? "50";
    const limit = Number(limitText);
    if (!/^\d{1,3}$/.test(limitText) || limit < 1 || limit > 200) throw httpError(400, "invalid_request", "limit: must be an integer from 1 to 200", "limit");
    const connection = filter(c, "connection");
    if (connection !== undefined && !config.connections.some((k) => k.id === connection && k.workspace === workspace)) {
      throw notFound(`connection "${connection}"`);
    }

    // Without a destination filter this is one page of the listing; with one, whole pages are
    // scanned until `limit` events matched (or MAX_SCANNED were looked at), so the cursor stays exact.
    const records: Array<EventSummary & { deliveries: unknown[] }> = [];
    let cursor = filter(c, "cursor") ?? null;
    let scanned = 0;
    do {
      const page = await engine.events.list({ ...query, limit, cursor });
      scanned += page.records.length;
      cursor = page.next_cursor;
      for (const summary of page.records) {
        const detail = await engine.events.get(summary.id, { workspace });
        const deliveries = (detail?.deliveries ?? []).map((d) => ({
          rule_id: d.rule_id,
          connection: d.connection,
          integration_type: d.integration_type,
          action: d.action,
          status: d.status,
          attempt_count: d.attempt_count,
          last_outcome: d.last_outcome,
          next_attempt_at: d.next_attempt_at,
        }));
        if (connection !== undefined && !deliveries.some((d) => d.connection === connection)) continue;
        records.push({ ...summary, ...(detail && { status: detail.status, completed_count: detail.completed_count, failed_count: detail.failed_count }), deliveries });
      }
    } while (connection !== undefined && cursor !== null && records.length < limit && scanned < MAX_SCANNED);
    return c.json({ count: records.length, limit, next_cursor: cursor, scanned, records });
  });

  app.get("/api/v1/dashboard/connections", auth, (c) => {
    const workspace = workspaceOf(c);
    const live = new Map(engine.stats().connections.map((s) => [s.id, s]));
    const records = config.connections
      .filter((k) => k.workspace === workspace)
      .map((k) => {
        const s = live.get(k.id);
        return {
          id: k.id,
          type: k.type,
          name: k.name,
          mode: k.mode,
          rules: config.rules.filter((r) => r.connection === k.id).length,
          circuit: s?.circuit ?? "closed",
          disabled: s?.disabled ?? false,
          in_flight: s?.inFlight ?? 0,
          queued: s?.queued ?? 0,
          health: stats.health(k.id),
        };
      });
    return c.json({ count: records.length, records });
  });

  app.get("/api/v1/dashboard/series", auth, (c) => {
    const workspace = workspaceOf(c);
    const name = c.req.query("window") ?? "1h";
    const window = WINDOWS[name];
    if (!window) throw httpError(400, "invalid_request", `window: must be one of ${Object.keys(WINDOWS).join(", ")}`, "window");
    return c.json({ workspace, window: name, outcomes: OUTCOMES, ...stats.series([workspace], window.windowMs, window.bucketMs) });
  });
}

import type { Attempt, EventSummary, Page } from "@meshwork/rules";
import { createManagementClient } from "../client.js";
import type { ManagementClient } from "../types.js";
import { CliError, table, type CliIO } from "./io.js";

/** The connection flags every management command takes. */
export interface ApiFlags {
  url?: string;
  accessKey?: string;
  secretKey?: string;
  json?: boolean;
}

type RuleEventView = { rule_id: string; connection: string; integration_type: string; action: string; status: string; attempt_count: number; next_attempt_at: string | null; last_error: string | null };
type EventView = EventSummary & { rule_events: RuleEventView[]; payload?: unknown };

export const DEFAULT_URL = "http://127.0.0.1:8787";

/** A management client from flags, else `MESHWORK_URL`, `MESHWORK_ACCESS_KEY`, `MESHWORK_SECRET_KEY`. */
export function apiFrom(flags: ApiFlags, io: CliIO): ManagementClient {
  const url = flags.url ?? io.env.MESHWORK_URL ?? DEFAULT_URL;
  const accessKey = flags.accessKey ?? io.env.MESHWORK_ACCESS_KEY;
  const secretKey = flags.secretKey ?? io.env.MESHWORK_SECRET_KEY;
  if (!accessKey) throw new CliError("an access key is required: pass --access-key or set MESHWORK_ACCESS_KEY", 2);
  if (!secretKey) throw new CliError("a secret key is required: set MESHWORK_SECRET_KEY (or pass --secret-key)", 2);
  return createManagementClient({ url, accessKey, secretKey, ...(io.fetch && { fetch: io.fetch }) });
}

const query = (params: Record<string, string | undefined>) => {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") search.set(k, v);
  const text = search.toString();
  return text ? `?${text}` : "";
};

const json = (io: CliIO, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);

/** `meshwork events list` */
export async function eventsListCommand(
  flags: ApiFlags & { workspace?: string; status?: string; event?: string; resource?: string; resourceId?: string; since?: string; limit?: string; cursor?: string; all?: boolean },
  io: CliIO,
): Promise<number> {
  const api = apiFrom(flags, io);
  const records: EventSummary[] = [];
  let cursor = flags.cursor;
  let next: string | null;
  do {
    const page: Page<EventSummary> = await api.request("GET", `/events${query({ workspace: flags.workspace, status: flags.status, event: flags.event, resource: flags.resource, resource_id: flags.resourceId, since: flags.since, limit: flags.limit, cursor })}`);
    records.push(...page.records);
    next = page.next_cursor;
    cursor = next ?? undefined;
  } while (flags.all && next);
  if (flags.json) {
    json(io, { count: records.length, next_cursor: flags.all ? null : next, records });
    return 0;
  }
  if (records.length === 0) {
    io.stdout("no events\n");
    return 0;
  }
  io.stdout(
    table(
      ["ID", "EVENT", "WORKSPACE", "STATUS", "RULES", "CREATED"],
      records.map((e) => [e.id, e.event, e.workspace, e.status, `${e.completed_count}/${e.total_rules}${e.failed_count ? ` (${e.failed_count} failed)` : ""}`, e.created_at]),
    ),
  );
  if (!flags.all && next) io.stdout(`more: --cursor ${next}\n`);
  return 0;
}

/** `meshwork events show <id>` */
export async function eventsShowCommand(id: string, flags: ApiFlags & { payload?: boolean; attempts?: boolean }, io: CliIO): Promise<number> {
  const api = apiFrom(flags, io);
  const event: EventView = await api.request("GET", `/events/${encodeURIComponent(id)}${flags.payload ? "/payload" : ""}`);
  const attempts: Record<string, Attempt[]> = {};
  if (flags.attempts) {
    for (const r of event.rule_events) {
      const page: { records: Attempt[] } = await api.request("GET", `/events/${encodeURIComponent(id)}/rules/${encodeURIComponent(r.rule_id)}/attempts`);
      attempts[r.rule_id] = page.records;
    }
  }
  if (flags.json) {
    json(io, flags.attempts ? { ...event, attempts } : event);
    return 0;
  }
  io.stdout(`${event.id}  ${event.event}  ${event.status}\n`);
  io.stdout(`workspace ${event.workspace}, created ${event.created_at}${event.resource ? `, resource ${event.resource}${event.resource_id ? `/${event.resource_id}` : ""}` : ""}\n`);
  if (event.payload !== undefined) io.stdout(`payload ${JSON.stringify(event.payload)}\n`);
  if (event.rule_events.length === 0) {
    io.stdout("no rule matched this event\n");
    return 0;
  }
  io.stdout("\n");
  io.stdout(
    table(
      ["RULE", "CONNECTION", "TYPE", "ACTION", "STATUS", "ATTEMPTS", "NEXT", "LAST ERROR"],
      event.rule_events.map((r) => [r.rule_id, r.connection, r.integration_type, r.action, r.status, String(r.attempt_count), r.next_attempt_at ?? "-", r.last_error ?? ""]),
    ),
  );
  for (const [rule, list] of Object.entries(attempts)) {
    io.stdout(`\nattempts of ${rule}:\n`);
    io.stdout(table(["#", "STARTED", "MS", "HTTP", "OUTCOME", "MESSAGE"], list.map((a) => [String(a.attempt), a.started_at, String(a.duration_ms), a.status === null ? "-" : String(a.status), a.outcome, a.message])));
  }
  return 0;
}

/** `meshwork retry <event> <rule>` */
export async function retryCommand(eventId: string, ruleId: string, flags: ApiFlags, io: CliIO): Promise<number> {
  const api = apiFrom(flags, io);
  const delivery: RuleEventView = await api.request("POST", `/events/${encodeURIComponent(eventId)}/rules/${encodeURIComponent(ruleId)}/retry`);
  if (flags.json) json(io, delivery);
  else io.stdout(`retrying ${eventId} → ${ruleId}: ${delivery.status} (attempts so far: ${delivery.attempt_count})\n`);
  return 0;
}

/** `meshwork cancel <event> [rule]` */
export async function cancelCommand(eventId: string, ruleId: string | undefined, flags: ApiFlags, io: CliIO): Promise<number> {
  const api = apiFrom(flags, io);
  if (ruleId !== undefined) {
    const delivery: RuleEventView = await api.request("POST", `/events/${encodeURIComponent(eventId)}/rules/${encodeURIComponent(ruleId)}/cancel`);
    if (flags.json) json(io, delivery);
    else io.stdout(`${eventId} → ${ruleId}: ${delivery.status}\n`);
    return 0;
  }
  const result: { count: number; records: RuleEventView[] } = await api.request("POST", `/events/${encodeURIComponent(eventId)}/cancel`);
  if (flags.json) json(io, result);
  else io.stdout(`canceled ${result.count} open deliver${result.count === 1 ? "y" : "ies"} of ${eventId}\n`);
  return 0;
}

/** `meshwork replay` */
export async function replayCommand(
  flags: ApiFlags & { workspace?: string; status?: string; since?: string; until?: string; connection?: string; rule?: string; event?: string; outcome?: string; dryRun?: boolean },
  io: CliIO,
): Promise<number> {
  const api = apiFrom(flags, io);
  const body: Record<string, unknown> = { dry_run: flags.dryRun === true };
  for (const key of ["workspace", "status", "since", "until", "connection", "rule", "event", "outcome"] as const) {
    if (flags[key] !== undefined) body[key] = flags[key];
  }
  const result: { count: number; dry_run: boolean } = await api.request("POST", "/replay", body);
  if (flags.json) json(io, result);
  else if (result.dry_run) io.stdout(`dry run: ${result.count} deliver${result.count === 1 ? "y" : "ies"} would be replayed\n`);
  else io.stdout(`replaying ${result.count} deliver${result.count === 1 ? "y" : "ies"}\n`);
  return 0;
}

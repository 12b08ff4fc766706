import { useEffect, useState } from "preact/hooks";
import type { Session } from "../api.js";
import { ErrorNotice, Loading, PageHeader, StatusBadge, Time } from "../components.js";
import { useFocusHeading, usePoll } from "../hooks.js";
import { href } from "../route.js";
import type { ConnectionRecord, EventPage, EventRecord } from "../types.js";

const STATUSES = ["pending", "processing", "completed", "failed", "canceled"] as const;
const TIMES: Array<[string, string]> = [
  ["", "Any time"],
  ["15m", "Last 15 minutes"],
  ["1h", "Last hour"],
  ["24h", "Last 24 hours"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
];
const FIELDS = ["status", "event", "resource", "connection", "since"] as const;
type Filters = Partial<Record<(typeof FIELDS)[number], string>>;

function filtersOf(query: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const field of FIELDS) {
    const value = query.get(field);
    if (value) filters[field] = value;
  }
  return filters;
}

function listPath(workspace: string, filters: Filters, cursor?: string): string {
  const params = new URLSearchParams({ workspace, limit: "50" });
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  if (cursor) params.set("cursor", cursor);
  return `/dashboard/events?${params}`;
}

interface Props {
  session: Session;
  workspace: string;
  query: URLSearchParams;
  connections: ConnectionRecord[];
}

export function EventsPage({ session, workspace, query, connections }: Props) {
  const heading = useFocusHeading("events");
  const filters = filtersOf(query);
  const key = `${workspace}|${listPath(workspace, filters)}`;
  const [live, setLive] = useState(true);
  const first = usePoll(() => session.get<EventPage>(listPath(workspace, filters)), key, 3000, live);
  const [older, setOlder] = useState<{ key: string; records: EventRecord[]; cursor: string | null; loading: boolean; error?: string }>({ key, records: [], cursor: null, loading: false });
  const names = new Map(connections.map((c) => [c.id, c.name]));

  useEffect(() => setOlder({ key, records: [], cursor: null, loading: false }), [key]);
  const cursor = older.key === key && older.records.length ? older.cursor : (first.data?.next_cursor ?? null);

  const loadOlder = () => {
    if (!cursor) return;
    setOlder((o) => ({ ...o, loading: true }));
    session.get<EventPage>(listPath(workspace, filters, cursor)).then(
      (page) => setOlder((o) => (o.key === key ? { key, records: [...o.records, ...page.records], cursor: page.next_cursor, loading: false } : o)),
      (error: Error) => setOlder((o) => ({ ...o, loading: false, error: error.message })),
    );
  };

  const seen = new Set<string>();
  const records = [...(first.data?.records ?? []), ...(older.key === key ? older.records : [])].filter((r) => !seen.has(r.id) && seen.add(r.id));

  const apply = (form: HTMLFormElement) => {
    const data = new FormData(form);
    const next: Record<string, string> = {};
    for (const field of FIELDS) {
      const value = String(data.get(field) ?? "").trim();
      if (value) next[field] = value;
    }
    location.hash = href("/events", next);
  };

  return (
    <>
      <PageHeader
        title="Events"
        headingRef={heading}
        end={
          <label class="inline">
            <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} /> Live (refresh every 3 s)
          </label>
        }
      />

      <form
        class="filters"
        role="search"
        aria-label="Filter events"
        onSubmit={(e) => {
          e.preventDefault();
          apply(e.currentTarget);
        }}
        key={key}
      >
        <label>
          Status
          <select name="status" value={filters.status ?? ""} onChange={(e) => apply((e.target as HTMLSelectElement).form!)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option value={s}>{s[0]!.toUpperCase() + s.slice(1)}</option>
            ))}
          </select>
        </label>
        <label>
          Event
          <input name="event" defaultValue={filters.event ?? ""} placeholder="user.signup" autoComplete="off" spellcheck={false} />
        </label>
        <label>
          Resource
          <input name="resource" defaultValue={filters.resource ?? ""} placeholder="onboarding_sequence" autoComplete="off" spellcheck={false} />
        </label>
        <label>
          Destination
          <select name="connection" value={filters.connection ?? ""} onChange={(e) => apply((e.target as HTMLSelectElement).form!)}>
            <option value="">Any destination</option>
            {connections.map((c) => (
              <option value={c.id}>{c.name}</option>
            ))}
          </select>
        </label>
        <label>
          Time
          <select name="since" value={filters.since ?? ""} onChange={(e) => apply((e.target as HTMLSelectElement).form!)}>
            {TIMES.map(([value, label]) => (
              <option value={value}>{label}</option>
            ))}
          </select>
        </label>
        <div class="filter-actions">
          <button type="submit">Apply</button>
          {Object.keys(filters).length > 0 && (
            <a class="button secondary" href="#/events">
              Clear
            </a>
          )}
        </div>
      </form>

      <ErrorNotice message={first.error} />
      {!first.data && !first.error && <Loading label="Loading events…" />}
      {first.data && (
        <table class="events">
          <caption class="visually-hidden">Events, newest first{Object.keys(filters).length ? ", filtered" : ""}</caption>
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Destinations</th>
              <th scope="col">Resource</th>
              <th scope="col">Received</th>
            </tr>
          </thead>
          <tbody>
            {records.length === 0 && (
              <tr>
                <td colSpan={5} class="empty">
                  No events match these filters.
                </td>
              </tr>
            )}
            {records.map((r) => (
              <tr key={r.id}>
                <td>
                  <a href={href(`/events/${encodeURIComponent(r.id)}`)} class="event-link">
                    {r.event}
                  </a>
                  <div class="id">{r.id}</div>
                </td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>
                  {r.deliveries.length === 0 ? (
                    <span class="muted">No rule matched</span>
                  ) : (
                    <ul class="chips">
                      {r.deliveries.map((d) => (
                        <li class={`chip status-${d.status}`}>
                          {names.get(d.connection) ?? d.connection}: {d.status}
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
                <td>{r.resource ? `${r.resource}${r.resource_id ? ` / ${r.resource_id}` : ""}` : <span class="muted">—</span>}</td>
                <td>
                  <Time iso={r.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <p>
          <button type="button" class="secondary" onClick={loadOlder} disabled={older.loading}>
            {older.loading ? "Loading…" : "Load older events"}
          </button>
        </p>
      )}
      <ErrorNotice message={older.error} />

      <Replay session={session} workspace={workspace} filters={filters} connections={connections} />
    </>
  );
}

const REPLAYABLE = ["failed", "canceled", "completed"] as const;

function Replay({ session, workspace, filters, connections }: { session: Session; workspace: string; filters: Filters; connections: ConnectionRecord[] }) {
  const initial = REPLAYABLE.includes(filters.status as (typeof REPLAYABLE)[number]) ? filters.status! : "failed";
  const [status, setStatus] = useState(initial);
  const [count, setCount] = useState<number | undefined>();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const scope = JSON.stringify([workspace, filters, status]);
  useEffect(() => {
    setCount(undefined);
    setError(undefined);
  }, [scope]);
  useEffect(() => setStatus(initial), [initial]);

  const body = (dryRun: boolean) => ({
    workspace,
    status,
    ...(filters.event && { event: filters.event }),
    ...(filters.connection && { connection: filters.connection }),
    ...(filters.since && { since: filters.since }),
    dry_run: dryRun,
  });
  const run = async (dryRun: boolean) => {
    setBusy(true);
    setError(undefined);
    setMessage(undefined);
    try {
      const result = await session.post<{ count: number }>("/replay", body(dryRun));
      if (dryRun) setCount(result.count);
      else {
        setCount(undefined);
        setMessage(`Replayed ${result.count} ${result.count === 1 ? "delivery" : "deliveries"}.`);
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const destination = filters.connection ? (connections.find((c) => c.id === filters.connection)?.name ?? filters.connection) : undefined;

  return (
    <section class="panel" aria-labelledby="replay-heading">
      <h2 id="replay-heading">Replay deliveries</h2>
      <p class="muted">
        Sends finished deliveries again, each with a fresh retry schedule. It uses the filters above
        {filters.event ? ` (event ${filters.event}` : " (any event"}
        {destination ? `, destination ${destination}` : ", any destination"}
        {filters.since ? `, last ${filters.since})` : ", any time)"}; resource filters do not apply.
      </p>
      <div class="replay-row">
        <label>
          Deliveries that are
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            {REPLAYABLE.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="button" class="secondary" onClick={() => void run(true)} disabled={busy}>
          Count (dry run)
        </button>
        {count !== undefined && (
          <>
            <span class="count" role="status">
              {count === 0 ? "Nothing to replay." : `${count} ${count === 1 ? "delivery" : "deliveries"} would be sent again.`}
            </span>
            {count > 0 && (
              <button type="button" class="danger" onClick={() => void run(false)} disabled={busy}>
                Replay {count} {count === 1 ? "delivery" : "deliveries"}
              </button>
            )}
          </>
        )}
      </div>
      <ErrorNotice message={error} />
      {message && (
        <p class="notice success" role="status">
          {message}
        </p>
      )}
    </section>
  );
}

import { useState } from "preact/hooks";
import type { Session } from "../api.js";
import { ErrorNotice, Loading, OutcomeBadge, PageHeader, StatusBadge, Time } from "../components.js";
import { duration, formatTime } from "../format.js";
import { useFocusHeading, usePoll } from "../hooks.js";
import type { Attempt, ConnectionRecord, EventDetail, HttpSummary, RuleEvent } from "../types.js";

const OPEN = new Set(["pending", "processing", "retrying"]);
const BODY_PREVIEW = 4000;

interface Props {
  session: Session;
  id: string;
  connections: ConnectionRecord[];
}

export function EventPage({ session, id, connections }: Props) {
  const heading = useFocusHeading(`event:${id}`);
  const [refresh, setRefresh] = useState(0);
  const detail = usePoll(() => session.get<EventDetail>(`/events/${encodeURIComponent(id)}`), `${id}|${refresh}`, 2000);
  const [announcement, setAnnouncement] = useState("");
  const event = detail.data;

  return (
    <>
      <p class="breadcrumb">
        <a href="#/events">← All events</a>
      </p>
      <PageHeader title={event ? event.event : "Event"} headingRef={heading}>
        {event && <StatusBadge status={event.status} />}
      </PageHeader>
      <ErrorNotice message={detail.error} />
      {!event && !detail.error && <Loading label="Loading the event…" />}
      {event && (
        <>
          <dl class="facts">
            <div>
              <dt>Event id</dt>
              <dd class="mono">{event.id}</dd>
            </div>
            <div>
              <dt>Received</dt>
              <dd>
                {formatTime(event.created_at)} (<Time iso={event.created_at} />)
              </dd>
            </div>
            <div>
              <dt>Resource</dt>
              <dd>{event.resource ? `${event.resource}${event.resource_id ? ` / ${event.resource_id}` : ""}` : "—"}</dd>
            </div>
            <div>
              <dt>Deliveries</dt>
              <dd>
                {event.total_rules} ({event.completed_count} completed, {event.failed_count} failed)
              </dd>
            </div>
          </dl>
          <Payload session={session} id={event.id} />
          <p class="visually-hidden" role="status" aria-live="polite">
            {announcement}
          </p>
          <h2>Deliveries</h2>
          {event.rule_events.length === 0 && <p class="muted">No rule matched this event.</p>}
          {event.rule_events.map((delivery) => (
            <Delivery
              key={delivery.rule_id}
              session={session}
              eventId={event.id}
              delivery={delivery}
              connection={connections.find((c) => c.id === delivery.connection)}
              onChanged={(message) => {
                setAnnouncement(message);
                setRefresh((n) => n + 1);
              }}
            />
          ))}
        </>
      )}
    </>
  );
}

function Payload({ session, id }: { session: Session; id: string }) {
  const [payload, setPayload] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const show = () => {
    session.get<EventDetail>(`/events/${encodeURIComponent(id)}/payload`).then(
      (detail) => setPayload(JSON.stringify(detail.payload, null, 2)),
      (e: Error) => setError(e.message),
    );
  };
  return (
    <section aria-label="Payload">
      {payload === undefined ? (
        <button type="button" class="secondary" onClick={show}>
          Show payload
        </button>
      ) : (
        <>
          <h2>Payload</h2>
          <pre class="code" tabIndex={0}>
            {payload}
          </pre>
          <button type="button" class="secondary" onClick={() => setPayload(undefined)}>
            Hide payload
          </button>
        </>
      )}
      <ErrorNotice message={error} />
    </section>
  );
}

interface DeliveryProps {
  session: Session;
  eventId: string;
  delivery: RuleEvent;
  connection: ConnectionRecord | undefined;
  onChanged: (message: string) => void;
}

function Delivery({ session, eventId, delivery, connection, onChanged }: DeliveryProps) {
  const path = `/events/${encodeURIComponent(eventId)}/rules/${encodeURIComponent(delivery.rule_id)}`;
  const attempts = usePoll(() => session.get<{ records: Attempt[] }>(`${path}/attempts`), `${path}|${delivery.attempt_count}|${delivery.status}`, 5000, OPEN.has(delivery.status));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const name = connection?.name ?? delivery.connection;
  const headingId = `delivery-${delivery.rule_id}`;

  const act = async (action: "retry" | "cancel") => {
    setBusy(true);
    setError(undefined);
    try {
      await session.post(`${path}/${action}`);
      onChanged(action === "retry" ? `Retry of the delivery to ${name} requested.` : `Delivery to ${name} canceled.`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const canRetry = delivery.status === "failed" || delivery.status === "canceled" || delivery.status === "retrying";
  const canCancel = OPEN.has(delivery.status);

  return (
    <section class="delivery panel" aria-labelledby={headingId}>
      <div class="delivery-header">
        <h3 id={headingId}>
          {name} <span class="muted">· {delivery.action}</span>
        </h3>
        <StatusBadge status={delivery.status} />
        <div class="actions">
          <button type="button" onClick={() => void act("retry")} disabled={busy || !canRetry} aria-describedby={headingId}>
            Retry
          </button>
          <button type="button" class="secondary" onClick={() => void act("cancel")} disabled={busy || !canCancel} aria-describedby={headingId}>
            Cancel
          </button>
        </div>
      </div>
      <dl class="facts compact">
        <div>
          <dt>Rule</dt>
          <dd class="mono">{delivery.rule_id}</dd>
        </div>
        <div>
          <dt>Destination</dt>
          <dd>
            {delivery.integration_type}
            {connection?.mode === "sandbox" ? " (sandbox)" : ""}
          </dd>
        </div>
        <div>
          <dt>Attempts</dt>
          <dd>{delivery.attempt_count}</dd>
        </div>
        {delivery.next_attempt_at && (
          <div>
            <dt>Next attempt</dt>
            <dd>
              <Time iso={delivery.next_attempt_at} />
            </dd>
          </div>
        )}
        {delivery.last_error && (
          <div class="wide">
            <dt>Last error</dt>
            <dd>{delivery.last_error}</dd>
          </div>
        )}
      </dl>
      <ErrorNotice message={error} />
      <h4 class="visually-hidden">Attempts</h4>
      <ErrorNotice message={attempts.error} />
      {attempts.data && attempts.data.records.length === 0 && <p class="muted">No attempt yet.</p>}
      {attempts.data && attempts.data.records.length > 0 && (
        <ol class="timeline" aria-label={`Attempts of the delivery to ${name}`}>
          {attempts.data.records.map((a) => (
            <AttemptItem attempt={a} />
          ))}
        </ol>
      )}
    </section>
  );
}

function AttemptItem({ attempt }: { attempt: Attempt }) {
  return (
    <li class={`attempt outcome-${attempt.outcome}`}>
      <div class="attempt-line">
        <strong>Attempt {attempt.attempt}</strong>
        <OutcomeBadge outcome={attempt.outcome} />
        <span>{attempt.status === null ? "no HTTP status" : `HTTP ${attempt.status}`}</span>
        <span>{duration(attempt.duration_ms)}</span>
        <span class="muted">
          <Time iso={attempt.started_at} />
        </span>
      </div>
      {attempt.message && <p class="attempt-message">{attempt.message}</p>}
      {attempt.exchanges.length > 0 && (
        <details>
          <summary>
            {attempt.exchanges.length === 1 ? "Request and response" : `${attempt.exchanges.length} requests and responses`} (credentials redacted)
          </summary>
          {attempt.exchanges.map((x) => (
            <div class="exchange">
              <Http label="Request" summary={x.request} />
              {x.response ? <Http label={`Response after ${duration(x.durationMs)}`} summary={x.response} /> : <p class="muted">No response ({duration(x.durationMs)}).</p>}
            </div>
          ))}
        </details>
      )}
      {attempt.notes.length > 0 && (
        <ul class="notes">
          {attempt.notes.map((n) => (
            <li>{n}</li>
          ))}
        </ul>
      )}
    </li>
  );
}

function Http({ label, summary }: { label: string; summary: HttpSummary }) {
  const headers = Object.entries(summary.headers ?? {});
  const body = summary.body ?? "";
  return (
    <div class="http">
      <h5>
        {label}: <span class="mono">{[summary.method, summary.url, summary.status].filter((p) => p !== undefined).join(" ")}</span>
      </h5>
      {headers.length > 0 && (
        <pre class="code small" tabIndex={0}>
          {headers.map(([k, v]) => `${k}: ${v}`).join("\n")}
        </pre>
      )}
      {body && (
        <pre class="code small" tabIndex={0}>
          {body.length > BODY_PREVIEW ? `${body.slice(0, BODY_PREVIEW)}\n… (${body.length - BODY_PREVIEW} more characters)` : body}
        </pre>
      )}
    </div>
  );
}

import type { Loaded } from "../hooks.js";
import { useFocusHeading } from "../hooks.js";
import { ErrorNotice, Loading, OutcomeBadge, PageHeader, Time } from "../components.js";
import { percent } from "../format.js";
import type { ConnectionRecord } from "../types.js";

const CIRCUIT: Record<ConnectionRecord["circuit"], string> = { closed: "Closed (sending)", open: "Open (paused)", half_open: "Half open (probing)" };

function healthClass(c: ConnectionRecord): string {
  if (c.disabled || c.circuit === "open") return "bad";
  const rate = c.health.success_rate;
  if (rate !== null && rate < 0.5) return "bad";
  if (c.circuit === "half_open" || (rate !== null && rate < 0.9)) return "warn";
  return "good";
}

export function ConnectionsPage({ connections }: { connections: Loaded<{ records: ConnectionRecord[] }> }) {
  const heading = useFocusHeading("connections");
  const records = connections.data?.records;
  return (
    <>
      <PageHeader title="Connections" headingRef={heading} />
      <p class="muted">Circuit state and queues are live. Success rates cover the last 100 attempts this server made since it started.</p>
      <ErrorNotice message={connections.error} />
      {!records && !connections.error && <Loading label="Loading connections…" />}
      {records && records.length === 0 && <p class="muted">This workspace has no connections.</p>}
      {records && records.length > 0 && (
        <table class="connections">
          <caption class="visually-hidden">Connections and their health</caption>
          <thead>
            <tr>
              <th scope="col">Connection</th>
              <th scope="col">Circuit</th>
              <th scope="col">Success rate</th>
              <th scope="col">Queue</th>
              <th scope="col">Last error</th>
              <th scope="col">Last success</th>
            </tr>
          </thead>
          <tbody>
            {records.map((c) => (
              <tr key={c.id}>
                <th scope="row">
                  <span class={`health-dot ${healthClass(c)}`} aria-hidden="true" />
                  {c.name}
                  <div class="id">
                    {c.type} · {c.mode} · {c.rules} {c.rules === 1 ? "rule" : "rules"}
                  </div>
                </th>
                <td>
                  <span class={`badge circuit-${c.disabled ? "disabled" : c.circuit}`}>{c.disabled ? "Disabled" : CIRCUIT[c.circuit]}</span>
                </td>
                <td>
                  <div class="rate">
                    <meter min={0} max={1} low={0.9} high={0.99} optimum={1} value={c.health.success_rate ?? 0} aria-label={`Success rate of ${c.name}`} />
                    <span>{percent(c.health.success_rate)}</span>
                  </div>
                  <div class="id">
                    {c.health.window ? `${c.health.delivered} of the last ${c.health.window} attempts` : "No attempt yet"}
                  </div>
                </td>
                <td>
                  {c.in_flight} in flight, {c.queued} queued
                </td>
                <td class="last-error">
                  {c.health.last_error ? (
                    <>
                      {c.health.last_outcome && c.health.last_outcome !== "delivered" && <OutcomeBadge outcome={c.health.last_outcome} />} {c.health.last_error}
                      <div class="id">
                        <Time iso={c.health.last_error_at} />
                      </div>
                    </>
                  ) : (
                    <span class="muted">None</span>
                  )}
                </td>
                <td>
                  <Time iso={c.health.last_success_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

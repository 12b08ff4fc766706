import type { Session } from "../api.js";
import { ErrorNotice, Loading, PageHeader } from "../components.js";
import { formatClock, formatTime, OUTCOME_LABELS } from "../format.js";
import { useFocusHeading, usePoll } from "../hooks.js";
import { href } from "../route.js";
import type { Outcome, Series } from "../types.js";

const WINDOWS: Array<[string, string]> = [
  ["15m", "15 minutes"],
  ["1h", "1 hour"],
  ["6h", "6 hours"],
  ["24h", "24 hours"],
];

export function ActivityPage({ session, workspace, query }: { session: Session; workspace: string; query: URLSearchParams }) {
  const heading = useFocusHeading("activity");
  const window = WINDOWS.some(([w]) => w === query.get("window")) ? query.get("window")! : "1h";
  const series = usePoll(() => session.get<Series>(`/dashboard/series?workspace=${encodeURIComponent(workspace)}&window=${window}`), `${workspace}|${window}`, 10_000);
  const data = series.data;
  const total = data ? Object.values(data.totals).reduce((a, b) => a + b, 0) : 0;

  return (
    <>
      <PageHeader
        title="Activity"
        headingRef={heading}
        end={
          <nav aria-label="Time window" class="segmented">
            {WINDOWS.map(([w, label]) => (
              <a href={href("/activity", { window: w })} aria-current={w === window ? "true" : undefined}>
                {label}
              </a>
            ))}
          </nav>
        }
      />
      <ErrorNotice message={series.error} />
      {!data && !series.error && <Loading label="Loading activity…" />}
      {data && (
        <>
          <ul class="totals" aria-label="Attempts by outcome in this window">
            <li>
              <strong>{total}</strong> attempts
            </li>
            {data.outcomes
              .filter((o) => data.totals[o] > 0)
              .map((o) => (
                <li>
                  <span class={`swatch outcome-${o}`} aria-hidden="true" /> {OUTCOME_LABELS[o]}: <strong>{data.totals[o]}</strong>
                </li>
              ))}
          </ul>
          <Chart series={data} />
          <p class="muted small">
            Delivery attempts by outcome, {Math.round(data.bucket_ms / 60_000)}-minute buckets. Counted by this server since {formatTime(data.tracking_since)}.
          </p>
          <details>
            <summary>Show the numbers as a table</summary>
            <table class="small">
              <caption class="visually-hidden">Attempts per time bucket by outcome</caption>
              <thead>
                <tr>
                  <th scope="col">From</th>
                  {data.outcomes.map((o) => (
                    <th scope="col">{OUTCOME_LABELS[o]}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {data.buckets
                  .filter((b) => Object.values(b.counts).some(Boolean))
                  .map((b) => (
                    <tr>
                      <th scope="row">{formatTime(b.start)}</th>
                      {data.outcomes.map((o) => (
                        <td>{b.counts[o]}</td>
                      ))}
                    </tr>
                  ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </>
  );
}

const W = 960;
const H = 280;
const PAD = { top: 12, right: 12, bottom: 28, left: 44 };

function niceMax(value: number): number {
  if (value <= 5) return 5;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** Stacked bars in inline SVG: one bar per bucket, one segment per outcome. */
function Chart({ series }: { series: Series }) {
  const stacks = series.buckets.map((b) => series.outcomes.reduce((sum, o) => sum + b.counts[o], 0));
  const max = niceMax(Math.max(0, ...stacks));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / series.buckets.length;
  const barW = Math.max(1, slot * 0.8);
  const y = (v: number) => PAD.top + plotH - (v / max) * plotH;
  const ticks = [0, max / 2, max];
  const labelEvery = Math.ceil(series.buckets.length / 6);
  const total = stacks.reduce((a, b) => a + b, 0);
  const failed = total - series.buckets.reduce((sum, b) => sum + b.counts.delivered, 0);

  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc">
        <title id="chart-title">Delivery attempts over time, by outcome</title>
        <desc id="chart-desc">
          {total} attempts from {formatTime(series.since)} to {formatTime(series.until)}; {failed} did not deliver. The same numbers are in the table below.
        </desc>
        {ticks.map((t) => (
          <g class="tick">
            <line x1={PAD.left} x2={W - PAD.right} y1={y(t)} y2={y(t)} />
            <text x={PAD.left - 6} y={y(t) + 4} text-anchor="end">
              {Math.round(t)}
            </text>
          </g>
        ))}
        {series.buckets.map((b, i) => {
          let base = 0;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g>
              {series.outcomes.map((o: Outcome) => {
                const v = b.counts[o];
                if (!v) return null;
                const top = y(base + v);
                const height = y(base) - top;
                base += v;
                return (
                  <rect class={`outcome-${o}`} x={x} y={top} width={barW} height={Math.max(1, height)}>
                    <title>
                      {formatClock(b.start)}: {v} {OUTCOME_LABELS[o]}
                    </title>
                  </rect>
                );
              })}
              {i % labelEvery === 0 && (
                <text class="axis" x={x + barW / 2} y={H - 8} text-anchor="middle">
                  {formatClock(b.start)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

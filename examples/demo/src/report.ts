// Turns the engine's delivery history and the simulators' state into the demo's closing report,
// sized for a 100-column terminal.
import type { ActiveCampaignSnapshot } from "@meshwork/activecampaign";
import type { HubspotSnapshot } from "@meshwork/hubspot";
import type { IntercomSnapshot } from "@meshwork/intercom";
import type { Attempt, Delivery, DeliveryStatus, Engine } from "@meshwork/rules";
import type { SlackSnapshot } from "@meshwork/slack";
import type { WebhookReceiverSnapshot } from "@meshwork/webhook";
import { connectionId, DESTINATION_NAMES, RULE_SET, type DemoWorkspace, type DestinationType } from "./config.js";

export const WIDTH = 100;

export interface DeliveryWithAttempts extends Delivery {
  attempts: Attempt[];
}

/** One line of the table: every delivery of one rule in one workspace. */
export interface ReportRow {
  event: string;
  destination: string;
  action: string;
  rule_id: string;
  /** Deliveries by status, e.g. `{ completed: 4 }`. */
  statuses: Partial<Record<DeliveryStatus, number>>;
  attempts: number;
  /** The outcome of each delivery's last attempt, e.g. `["delivered"]`. */
  outcomes: string[];
  /** Attempts that did not deliver, by outcome then time: what the retries and the replay were about. */
  setbacks: Attempt[];
}

export interface WorkspaceReport {
  workspace: DemoWorkspace;
  events: number;
  deliveries: DeliveryWithAttempts[];
  rows: ReportRow[];
}

export async function collectReport(engine: Engine, workspaces: DemoWorkspace[]): Promise<WorkspaceReport[]> {
  const reports: WorkspaceReport[] = [];
  for (const workspace of workspaces) {
    const page = await engine.events.list({ workspace: workspace.id, limit: 500 });
    const deliveries: DeliveryWithAttempts[] = [];
    for (const summary of page.records) {
      const detail = await engine.events.get(summary.id, { workspace: workspace.id });
      for (const delivery of detail?.deliveries ?? []) {
        deliveries.push({ ...delivery, attempts: await engine.attempts.list(delivery.event_id, delivery.rule_id) });
      }
    }
    const rows: ReportRow[] = [];
    for (const rule of RULE_SET) {
      const mine = deliveries.filter((d) => d.rule_id === `${workspace.id}.${rule.id}`);
      if (mine.length === 0) continue;
      const statuses: ReportRow["statuses"] = {};
      for (const d of mine) statuses[d.status] = (statuses[d.status] ?? 0) + 1;
      rows.push({
        event: rule.event,
        destination: DESTINATION_NAMES[rule.connection],
        action: rule.metadata.action,
        rule_id: `${workspace.id}.${rule.id}`,
        statuses,
        attempts: mine.reduce((n, d) => n + d.attempt_count, 0),
        outcomes: [...new Set(mine.map((d) => d.last_outcome ?? "—"))],
        setbacks: mine
          .flatMap((d) => d.attempts.filter((a) => a.outcome !== "delivered"))
          .sort((a, b) => a.outcome.localeCompare(b.outcome) || a.started_at.localeCompare(b.started_at)),
      });
    }
    reports.push({ workspace, events: page.records.length, deliveries, rows });
  }
  return reports;
}

const pad = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));
const COLUMNS = [
  ["event", 15],
  ["destination", 15],
  ["action", 16],
  ["status", 13],
  ["attempts", 9],
  ["outcome", 22],
] as const;

function row(cells: string[]): string {
  return `  ${cells.map((cell, i) => (i === cells.length - 1 ? cell : pad(cell, COLUMNS[i]![1]))).join(" ")}`.trimEnd();
}

function statusText(statuses: ReportRow["statuses"]): string {
  return Object.entries(statuses)
    .map(([status, n]) => (n === 1 ? status : `${n} ${status}`))
    .join(", ");
}

function setbackText(attempt: Attempt): string {
  return attempt.status === null ? attempt.outcome : `${attempt.outcome} (HTTP ${attempt.status})`;
}

/** An indented note under a table row, wrapped to the width. */
function note(lines: string[], text: string): void {
  lines.push(...wrap(text, WIDTH - 4).map((part, i) => `${i === 0 ? "    " : "      "}${part}`));
}

/** The per-workspace tables: event → destination → action → status → attempts → outcome. */
export function formatReport(reports: WorkspaceReport[]): string[] {
  const lines: string[] = [];
  for (const report of reports) {
    const total = report.deliveries.length;
    const done = report.deliveries.filter((d) => d.status === "completed").length;
    const title = `${report.workspace.id} — ${report.workspace.name}: ${report.events} events, ${done}/${total} deliveries completed `;
    lines.push(title.padEnd(WIDTH, "─"));
    lines.push(row(COLUMNS.map(([name]) => name)));
    for (const r of report.rows) {
      lines.push(row([r.event, r.destination, r.action, statusText(r.statuses), String(r.attempts), r.outcomes.join(", ")]));
      const retried = r.setbacks.filter((a) => a.retryable);
      const permanent = r.setbacks.filter((a) => !a.retryable);
      if (retried.length > 0) note(lines, `↳ retried after ${retried.map(setbackText).join(", ")}`);
      for (const attempt of permanent) {
        const then = r.statuses.completed ? "fixed, replayed, delivered" : "not fixed yet";
        note(lines, `↳ failed for good on attempt ${attempt.attempt}, ${setbackText(attempt)}: “${attempt.message}” → ${then}`);
      }
    }
    lines.push("");
  }
  return lines;
}

/** What each workspace's simulators hold now: production in full, staging in one line each. */
export function formatSnapshots(engine: Engine, workspaces: DemoWorkspace[]): string[] {
  const lines: string[] = [];
  for (const workspace of workspaces) {
    const snap = <T>(type: DestinationType) => engine.sandbox<T>(connectionId(workspace.id, type)).snapshot();
    const hs = snap<HubspotSnapshot>("hubspot");
    const ac = snap<ActiveCampaignSnapshot>("activecampaign");
    const ic = snap<IntercomSnapshot>("intercom");
    const sl = snap<SlackSnapshot>("slack");
    const wh = snap<WebhookReceiverSnapshot>("webhook");
    const messages = sl.channels.flatMap((c) => c.messages.map((m) => ({ channel: c.name, text: m.text ?? "" })));

    lines.push(`What ${workspace.id}'s sandbox simulators hold now `.padEnd(WIDTH, "─"));
    if (workspace.env === "staging") {
      lines.push(
        `  HubSpot ${hs.contacts.length} contact(s) · ActiveCampaign ${ac.contacts.length} · Intercom ${ic.contacts.length} · ` +
          `Slack ${messages.length} message(s) · Webhook ${wh.deliveries.length} receipt(s)`,
      );
      lines.push("");
      continue;
    }
    lines.push("  HubSpot contacts and lists");
    for (const c of hs.contacts) {
      const { email, ...props } = c.properties;
      lines.push(`    ${pad(email ?? c.id, 24)} ${Object.entries(props).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    }
    for (const list of hs.lists) lines.push(`    list “${list.name}” (${list.listId}): ${list.members.join(", ") || "no members"}`);
    lines.push("  ActiveCampaign contacts: lists · tags");
    for (const c of ac.contacts) {
      lines.push(`    ${pad(c.email, 24)} lists: ${c.lists.map((l) => l.name).join(", ") || "—"} · tags: ${c.tags.join(", ") || "—"}`);
    }
    lines.push("  Intercom contacts: tags · events");
    for (const c of ic.contacts) {
      const events = ic.events.filter((e) => e.contact_id === c.id);
      const names = [...new Set(events.map((e) => e.event_name))].map((name) => `${name} ×${events.filter((e) => e.event_name === name).length}`);
      lines.push(`    ${pad(c.email, 24)} tags: ${c.tags.join(", ") || "—"} · events: ${names.join(", ") || "—"}`);
    }
    lines.push("  Slack messages");
    for (const m of messages) lines.push(...wrap(`#${pad(m.channel, 11)} ${m.text}`, WIDTH - 4).map((text, i) => `    ${i === 0 ? "" : "             "}${text}`));
    lines.push("  Webhook receipts (Standard Webhooks signature checked with the workspace's secret)");
    for (const d of wh.deliveries) {
      const body = d.payload as { event?: string; payload?: { email?: string } } | null;
      lines.push(`    ${pad(d.id, 36)} ${pad(body?.event ?? "?", 15)} ${pad(body?.payload?.email ?? "", 22)} ${d.verified ? "verified ✓" : "NOT verified"}`);
    }
    if (wh.rejected.length > 0) lines.push(`    ${wh.rejected.length} rejected: ${wh.rejected.map((r) => r.code).join(", ")}`);
    lines.push("");
  }
  return lines;
}

/** Splits text into lines of at most `width` characters, at spaces. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

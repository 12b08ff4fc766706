// The demo itself: an in-process engine on a SQLite file, four workspaces, every connection in
// sandbox mode. Emits events through @meshwork/events, shows retries, a permanent failure, the
// fix and the replay, then reports per workspace and prints what each simulator now holds.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { activecampaign, type ActiveCampaignSimulator } from "@meshwork/activecampaign";
import { createClient, type MeshworkClient } from "@meshwork/events";
import { hubspot, type HubspotSimulator } from "@meshwork/hubspot";
import { intercom, type IntercomSimulator } from "@meshwork/intercom";
import { createEngine, sqliteStore, type Delivery, type Engine, type EngineOptions } from "@meshwork/rules";
import { slack, type SlackSimulator } from "@meshwork/slack";
import { webhook } from "@meshwork/webhook";
import { connectionId, DESTINATION_NAMES, demoConfig, demoWorkspaces, IDS, RULE_SET, type DemoWorkspace, type DestinationType } from "./config.js";
import { collectReport, formatReport, formatSnapshots, WIDTH, wrap, type WorkspaceReport } from "./report.js";
import { ACTS, productionTraffic, stagingTraffic } from "./traffic.js";

export interface DemoOptions {
  /** Where lines go. Default `console.log`. */
  print?: (line: string) => void;
  /** A status line that is redrawn in place (a terminal); without it progress is printed as lines. */
  status?: (line: string) => void;
  /** Delays before attempts 1, 2, …, ms. Default `[0, 1000, 2000, 4000]`: seconds, not hours. */
  retrySchedule?: number[];
  /** Leave the engine running (for `--serve`); the caller stops it and removes `dataDir`. */
  keepRunning?: boolean;
  /** Builds the engine; default `createEngine`. `--serve` passes one that builds a server around it. */
  createEngine?: (options: EngineOptions) => Engine;
}

export interface DemoResult {
  engine: Engine;
  workspaces: DemoWorkspace[];
  reports: WorkspaceReport[];
  /** The delivery that failed for good, then completed after the fix and the replay. */
  replayed: { workspace: string; eventId: string; ruleId: string; replayCount: number };
  durationMs: number;
  dataDir: string;
}

export const DEFAULT_RETRY_SCHEDULE_MS = [0, 1000, 2000, 4000];
const MISCONFIGURED = { workspace: "acme-prod", rule: "acme-prod.dunning-to-slack", channel: IDS.slackBilling };

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(4)} s`;
  const schedule = options.retrySchedule ?? DEFAULT_RETRY_SCHEDULE_MS;

  const dataDir = mkdtempSync(join(tmpdir(), "meshwork-demo-"));
  const workspaces = demoWorkspaces();
  const engine = (options.createEngine ?? createEngine)({
    config: demoConfig(workspaces),
    destinations: [hubspot(), activecampaign(), intercom(), slack(), webhook()],
    store: sqliteStore({ path: join(dataDir, "meshwork.db") }),
    retry: { schedule, jitter: 0.1 },
  });

  print("Meshwork demo — in-process engine, SQLite store, every connection in sandbox mode");
  print(`  store      ${join(dataDir, "meshwork.db")}`);
  print(`  tenants    Acme and Globex, each with a production and a staging workspace`);
  print(`  rules      one rule set of ${RULE_SET.length} rules, copied into each of the ${workspaces.length} workspaces`);
  print(`  retries    after ${schedule.slice(1).map((ms) => `${ms / 1000} s`).join(", ")} (production default: 5 s, 5 min, 30 min, … 10 h)`);
  print("");

  for (const workspace of workspaces) seedSandbox(engine, workspace.id, workspace.id === MISCONFIGURED.workspace);
  // Acme's Intercom answers the first request with a 429 and the next one with a 503.
  const acmeIntercom = engine.sandbox(connectionId("acme-prod", "intercom"));
  acmeIntercom.inject({ status: 429, headers: { "retry-after": "1" }, body: { type: "error.list", errors: [{ code: "rate_limit_exceeded", message: "Rate limit exceeded" }] } });
  acmeIntercom.inject({ status: 503, body: { type: "error.list", errors: [{ code: "service_unavailable", message: "Service unavailable" }] } });
  print("Faults injected: Acme's Intercom simulator answers 429 (Retry-After: 1) then 503;");
  print(`                 Acme's Slack bot is not a member of #billing (${IDS.slackBilling}).`);
  print("");

  const progress = trackProgress(engine, print, options.status, elapsed);
  await engine.start();

  // ── 1–3. The product emits events, one client per workspace key, in three acts ──────────
  const clients = new Map<string, MeshworkClient>();
  for (const workspace of workspaces) clients.set(workspace.id, createClient({ publishableKey: workspace.publishableKey, engine, flushIntervalMs: 50 }));
  const traffic = new Map(workspaces.map((w) => [w.id, w.env === "production" ? productionTraffic(w.tenant) : stagingTraffic(w.tenant)]));
  for (const [index, act] of ACTS.entries()) {
    const batch = workspaces.flatMap((w) => traffic.get(w.id)![act].map((event) => ({ client: clients.get(w.id)!, event })));
    const names = [...new Set(batch.map(({ event }) => event.event))].join(", ");
    print(`[${elapsed()}] ${index + 1}. ${act}: emitting ${batch.length} events (${names}) with meshwork.emit()`);
    const receipts = batch.map(({ client, event }) => client.emit(event));
    // Send now rather than after `flushIntervalMs`; the client's timers never keep a process alive.
    await Promise.all([...clients.values()].map((client) => client.flush()));
    await Promise.all(receipts);
    await settle(engine);
    progress.line(`[${elapsed()}]    ${act} settled`);
  }

  // ── 3. Fix the misconfiguration and replay what failed ───────────────────────────────────
  const failed = await engine.replay({ workspace: MISCONFIGURED.workspace, status: "failed" }, { dryRun: true });
  print(`[${elapsed()}] 4. ${failed.count} delivery failed for good in ${MISCONFIGURED.workspace}; the fix: the Slack bot joins #billing`);
  (engine.sandbox(connectionId(MISCONFIGURED.workspace, "slack")) as SlackSimulator).addChannel({ id: MISCONFIGURED.channel, name: "billing", botMember: true });
  const query = { workspace: MISCONFIGURED.workspace, status: "failed", connection: connectionId(MISCONFIGURED.workspace, "slack") } as const;
  const replay = await engine.replay(query);
  print(`[${elapsed()}]    then engine.replay({ workspace: "${query.workspace}", status: "failed",`);
  print(`                                 connection: "${query.connection}" }) → ${replay.count} replayed`);
  await settle(engine);
  progress.line(`[${elapsed()}]    replay settled`);
  progress.stop();

  for (const client of clients.values()) await client.close();

  const reports = await collectReport(engine, workspaces);
  const replayedEvent = reports
    .flatMap((r) => r.deliveries)
    .find((d) => d.rule_id === MISCONFIGURED.rule);
  const durationMs = performance.now() - started;

  print("");
  for (const line of formatReport(reports)) print(line);
  for (const line of formatSnapshots(engine, workspaces)) print(line);
  print(`Finished in ${(durationMs / 1000).toFixed(1)} s: retries waited seconds here, not the production minutes and hours.`);

  const result: DemoResult = {
    engine,
    workspaces,
    reports,
    replayed: { workspace: MISCONFIGURED.workspace, eventId: replayedEvent?.event_id ?? "", ruleId: MISCONFIGURED.rule, replayCount: replay.count },
    durationMs,
    dataDir,
  };
  if (!options.keepRunning) {
    await engine.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return result;
}

/** Resolves once no delivery is open: finished, or failed for good. `drain` returns while retries wait. */
export async function settle(engine: Engine): Promise<void> {
  for (;;) {
    await engine.drain();
    if (engine.stats().open === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The sandbox mirrors what the real accounts hold: lists, tags and Slack channels the rules name. */
function seedSandbox(engine: Engine, workspace: string, botOutOfBilling: boolean): void {
  const sim = <T>(type: DestinationType) => engine.sandbox(connectionId(workspace, type)) as T;
  sim<HubspotSimulator>("hubspot").seedList({ listId: IDS.hubspotExpiredTrials, name: "Expired trials" });
  const ac = sim<ActiveCampaignSimulator>("activecampaign");
  ac.seedList({ id: IDS.acOnboardingList, name: "Onboarding" });
  ac.seedTag({ id: IDS.acNextStepTag, tag: "onboarding-next-step" });
  ac.seedTag({ id: IDS.acTrialExpiredTag, tag: "trial-expired" });
  const ic = sim<IntercomSimulator>("intercom");
  ic.addTag({ id: IDS.intercomSignedUp, name: "Signed up" });
  ic.addTag({ id: IDS.intercomPaymentFailed, name: "Payment failed" });
  const sl = sim<SlackSimulator>("slack");
  sl.addChannel({ id: IDS.slackOnboarding, name: "onboarding" });
  sl.addChannel({ id: IDS.slackGrowth, name: "growth" });
  sl.addChannel({ id: IDS.slackBilling, name: "billing", botMember: !botOutOfBilling });
}

/** Prints retries and failures as they happen, and keeps a progress line up to date. */
function trackProgress(engine: Engine, print: (line: string) => void, status: ((line: string) => void) | undefined, elapsed: () => string) {
  const latest = new Map<string, Delivery>();
  const summary = () => {
    const counts: Record<string, number> = {};
    for (const d of latest.values()) counts[d.status] = (counts[d.status] ?? 0) + 1;
    const done = (counts.completed ?? 0) + (counts.failed ?? 0);
    const parts = [`${counts.completed ?? 0} completed`, `${counts.retrying ?? 0} retrying`, `${counts.failed ?? 0} failed`];
    return `deliveries ${done}/${latest.size} finished: ${parts.join(" · ")}`;
  };
  const redraw = () => status?.(`[${elapsed()}] ${summary()}`);
  const line = (text: string) => wrap(text, WIDTH).forEach((part, i) => print(i === 0 ? part : `               ${part}`));
  const off = engine.on("delivery", (delivery) => {
    latest.set(delivery.id, delivery);
    const what = `${delivery.workspace} ${delivery.event} → ${DESTINATION_NAMES[delivery.integration_type as DestinationType]} ${delivery.action}`;
    if (delivery.status === "retrying") {
      const wait = delivery.next_attempt_at ? Math.max(0, Date.parse(delivery.next_attempt_at) - Date.now()) / 1000 : 0;
      line(`[${elapsed()}]    ↻ ${what}: ${delivery.last_outcome}, retry in ${wait.toFixed(1)} s`);
    } else if (delivery.status === "failed") {
      line(`[${elapsed()}]    ✗ ${what}: ${delivery.last_outcome}, failed for good:`);
      for (const line of wrap(`“${delivery.last_error ?? ""}”`, 84)) print(`               ${line}`);
    } else if (delivery.status === "completed" && delivery.attempt_count > 1) {
      line(`[${elapsed()}]    ✓ ${what}: delivered on attempt ${delivery.attempt_count}`);
    }
    redraw();
  });
  const timer = setInterval(redraw, 250);
  return {
    line: (text: string) => line(`${text}; ${summary()}`),
    stop: () => {
      clearInterval(timer);
      off();
      status?.("");
    },
  };
}

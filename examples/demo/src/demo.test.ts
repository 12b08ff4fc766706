// Runs the demo twice at once: imported (to check the engine's records and the simulators) and
// as a child process the way `npm run demo -- --serve` runs it (what a newcomer sees, the server).
import { spawn } from "node:child_process";
import { join } from "node:path";
import type { SlackSnapshot } from "@meshwork/slack";
import type { WebhookReceiverSnapshot } from "@meshwork/webhook";
import { describe, expect, it } from "vitest";
import { connectionId, RULE_SET } from "./config.js";
import { runDemo } from "./demo.js";

const root = join(import.meta.dirname, "..", "..", "..");

describe.concurrent("the demo", () => {
  it("delivers everything, retries the 429 and the 503, and completes the not_in_channel delivery after the replay", async () => {
    const lines: string[] = [];
    const result = await runDemo({ print: (line) => lines.push(line), keepRunning: true });
    const { engine } = result;
    try {
      // About 8 s on an idle machine; the bound leaves room for a busy CI runner.
      expect(result.durationMs).toBeLessThan(60_000);

      // Every delivery in every workspace completed, and each workspace made the deliveries its traffic asks for.
      const byWorkspace = Object.fromEntries(result.reports.map((r) => [r.workspace.id, r]));
      expect(Object.fromEntries(result.reports.map((r) => [r.workspace.id, r.deliveries.length]))).toEqual({
        "acme-prod": 38,
        "acme-staging": 9,
        "globex-prod": 23,
        "globex-staging": 9,
      });
      for (const report of result.reports) {
        for (const delivery of report.deliveries) expect(delivery, delivery.rule_id).toMatchObject({ status: "completed", last_outcome: "delivered" });
      }

      // Staging ran the production rules: the same rule set, minus what its traffic does not trigger.
      const ruleIds = (workspace: string) => byWorkspace[workspace]!.rows.map((row) => row.rule_id.slice(workspace.length + 1));
      expect(ruleIds("acme-prod")).toEqual(RULE_SET.map((rule) => rule.id));
      expect(ruleIds("acme-staging")).toEqual(RULE_SET.filter((r) => r.event === "user.signup" || r.event === "page.completed").map((r) => r.id));
      // Marge is on the free plan: the `when` condition of trial-list kept it out of HubSpot.
      expect(ruleIds("globex-prod")).toEqual(RULE_SET.filter((r) => r.id !== "trial-list").map((r) => r.id));

      // Retries are recorded: Acme's Intercom answered 429 and 503 once each, then delivered.
      const intercomRow = byWorkspace["acme-prod"]!.rows.find((row) => row.rule_id === "acme-prod.signup-tag")!;
      expect(intercomRow.setbacks.map((a) => a.outcome).sort()).toEqual(["rate_limited", "rejected_server_error"]);
      expect(intercomRow.setbacks.map((a) => a.status).sort()).toEqual([429, 503]);
      expect(intercomRow.attempts).toBe(5);

      // The misconfigured rule: failed for good on attempt 1, completed on attempt 2 after the fix and the replay.
      expect(result.replayed.replayCount).toBe(1);
      const attempts = await engine.attempts.list(result.replayed.eventId, result.replayed.ruleId);
      expect(attempts.map((a) => [a.attempt, a.outcome, a.retryable])).toEqual([
        [1, "rejected_client_error", false],
        [2, "delivered", false],
      ]);
      expect(attempts[0]!.message).toContain("not a member of channel C0BILLING1");

      // The simulators hold the results: Slack messages in the right channels, verified webhooks, nothing crossing tenants.
      const slack = engine.sandbox<SlackSnapshot>(connectionId("acme-prod", "slack")).snapshot();
      const billing = slack.channels.find((c) => c.name === "billing")!;
      expect(billing.messages.map((m) => m.text)).toEqual(["Payment failed for sam@northstar.io: 49 USD (card_declined)"]);
      const globexSlack = JSON.stringify(engine.sandbox<SlackSnapshot>(connectionId("globex-prod", "slack")).snapshot());
      expect(globexSlack).not.toContain("northstar.io");
      const webhooks = engine.sandbox<WebhookReceiverSnapshot>(connectionId("acme-prod", "webhook")).snapshot();
      expect(webhooks.deliveries).toHaveLength(6);
      expect(webhooks.deliveries.every((d) => d.verified === true)).toBe(true);
      expect(webhooks.rejected).toEqual([]);

      // What was printed: the progress, the table with the retried and the replayed rows, the simulators.
      const text = lines.join("\n");
      expect(text).toMatch(/↻ acme-prod user\.signup → Intercom add_tag: rate_limited, retry in/);
      expect(text).toMatch(/✗ acme-prod payment\.failed → Slack send_message: rejected_client_error, failed for good/);
      expect(text).toMatch(/payment\.failed +Slack +send_message +completed +2 +delivered/);
      expect(text).toContain("↳ retried after rate_limited (HTTP 429), rejected_server_error (HTTP 503)");
      expect(text).toContain("#billing     Payment failed for sam@northstar.io");
      expect(text).toMatch(/Finished in \d+\.\d s/);
    } finally {
      await engine.stop();
    }
  }, 60_000);

  it("runs as `npm run demo -- --serve` runs it: prints the tables within 100 columns, then serves the engine until SIGTERM", async () => {
    const tsx = join(root, "node_modules", ".bin", "tsx");
    const child = spawn(tsx, ["examples/demo/src/main.ts", "--serve"], { cwd: root, env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const started = Date.now();
      while (!/Serving the demo's engine on (http:\/\/127\.0\.0\.1:\d+)/.test(stdout)) {
        if (child.exitCode !== null || Date.now() - started > 50_000) throw new Error(`the demo did not start serving:\n${stdout}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(stdout).toMatch(/acme-prod — Acme \(production\): 9 events, 38\/38 deliveries completed/);
      expect(stdout).toMatch(/globex-prod — Globex \(production\): 6 events, 23\/23 deliveries completed/);
      expect(stdout).toMatch(/Finished in \d+\.\d s/);
      const demoOutput = stdout.slice(0, stdout.indexOf("Serving the demo's engine")); // the commands after it are for copy-paste
      expect(demoOutput.split("\n").filter((line) => line.length > 100)).toEqual([]);

      // The served engine takes events on the Meshes events API with a demo publishable key.
      const url = /Serving the demo's engine on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)![1]!;
      const response = await fetch(`${url}/api/v1/events`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-meshes-publishable-key": "mw_pub_demo_acme_production" },
        body: JSON.stringify({ event: "user.signup", payload: { email: "new@northstar.io" } }),
      });
      expect(response.status).toBe(201);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  }, 60_000);
});

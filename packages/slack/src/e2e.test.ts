// End to end through the rules engine: one `page.completed` fans out to Intercom, Slack and a
// signed webhook, all in sandbox mode, and a Slack misconfiguration fails once, permanently.
import { createIntercomSimulator, intercom, type IntercomSimulator } from "@meshwork/intercom";
import { createEngine, createTestClock, defineConfig, type Engine } from "@meshwork/rules";
import { createWebhookSecret, createWebhookSimulator, webhook, type WebhookSimulator } from "@meshwork/webhook";
import { afterEach, describe, expect, it } from "vitest";
import { createSlackSimulator, slack, type SlackSimulator } from "./index.js";

const publishableKey = "mw_pub_e2e_acme_staging";
const intercomToken = "dG9rOmUyZS1pbnRlcmNvbQ";
const botToken = "xoxb-5012-8080-ZTJlLWJvdA";
const webhookSecret = createWebhookSecret();

function setup(): { engine: Engine; intercom: IntercomSimulator; slack: SlackSimulator; webhook: WebhookSimulator } {
  const clock = createTestClock({ now: Date.parse("2026-11-26T12:00:00.000Z") });
  const now = () => clock.now();
  const simulators = {
    intercom: createIntercomSimulator({ tags: [{ id: "7522907", name: "Onboarded" }], now }),
    slack: createSlackSimulator({
      channels: [
        { id: "C0GROWTH01", name: "growth" },
        { id: "C0BOARD001", name: "board", botMember: false },
      ],
      now,
    }),
    // The webhook's default sandbox cannot see the connection's secrets; this one verifies signatures.
    webhook: createWebhookSimulator({ secrets: [webhookSecret], now }),
  };
  const config = defineConfig({
    workspaces: [{ id: "acme-staging", name: "Acme", environment: "staging", publishableKeys: [publishableKey] }],
    connections: [
      {
        id: "acme-intercom",
        workspace: "acme-staging",
        type: "intercom",
        name: "Intercom",
        mode: "sandbox",
        credentials: { accessToken: intercomToken, region: "eu" },
      },
      { id: "acme-slack", workspace: "acme-staging", type: "slack", name: "Slack", mode: "sandbox", credentials: { botToken } },
      {
        id: "acme-webhook",
        workspace: "acme-staging",
        type: "webhook",
        name: "Webhook",
        mode: "sandbox",
        credentials: { url: "https://hooks.acme.example/meshwork", secrets: [webhookSecret] },
      },
    ],
    rules: [
      {
        id: "tag-onboarded",
        workspace: "acme-staging",
        connection: "acme-intercom",
        event: "page.completed",
        resource: "onboarding_sequence",
        metadata: { action: "add_tag", id: "7522907" },
      },
      {
        id: "notify-growth",
        workspace: "acme-staging",
        connection: "acme-slack",
        event: "page.completed",
        metadata: { action: "send_message", id: "C0GROWTH01", template: "{{user.name}} ({{email}}) finished step {{sequence_step}}" },
      },
      {
        id: "notify-board",
        workspace: "acme-staging",
        connection: "acme-slack",
        event: "page.completed",
        metadata: { action: "send_message", id: "C0BOARD001", template: "{{email}} finished step {{sequence_step}}" },
      },
      {
        id: "forward",
        workspace: "acme-staging",
        connection: "acme-webhook",
        event: "page.completed",
        metadata: { action: "send_webhook" },
      },
    ],
  });
  const engine = createEngine({
    config,
    destinations: [
      intercom({ simulator: simulators.intercom }),
      slack({ simulator: simulators.slack }),
      { ...webhook(), sandbox: () => simulators.webhook },
    ],
    clock,
    random: () => 0.5,
  });
  return { engine, ...simulators };
}

let running: Engine | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe("page.completed through the engine, sandbox connections", () => {
  it("tags the Intercom contact, posts the rendered Slack message, delivers a verified webhook; not_in_channel fails once", async () => {
    const { engine, ...sims } = setup();
    running = engine;
    await engine.start();
    expect(engine.sandbox("acme-slack")).toBe(sims.slack);

    const { records } = await engine.ingest(
      [
        {
          event: "page.completed",
          resource: "onboarding_sequence",
          resource_id: "workspace-setup",
          payload: { email: "alex@northstar.io", user: { name: "Alex <!channel>" }, sequence_step: 3 },
        },
      ],
      { publishableKey },
    );
    const eventId = (records[0] as { id: string }).id;
    await engine.drain({ advanceClock: true, timeoutMs: 15_000 });

    const detail = await engine.events.get(eventId);
    const byRule = Object.fromEntries((detail?.deliveries ?? []).map((d) => [d.rule_id, d]));
    expect(byRule["tag-onboarded"]).toMatchObject({ status: "completed", attempt_count: 1, last_outcome: "delivered" });
    expect(byRule["notify-growth"]).toMatchObject({ status: "completed", attempt_count: 1, last_outcome: "delivered" });
    expect(byRule.forward).toMatchObject({ status: "completed", attempt_count: 1, last_outcome: "delivered" });

    // Intercom: the contact was created as a user and tagged.
    expect(sims.intercom.snapshot().contacts).toEqual([
      expect.objectContaining({ email: "alex@northstar.io", role: "user", tags: ["Onboarded"] }),
    ]);
    // Slack: the template rendered, the payload's markup escaped.
    const growth = sims.slack.snapshot().channels.find((channel) => channel.id === "C0GROWTH01");
    expect(growth?.messages).toEqual([
      { ts: expect.any(String), text: "Alex &lt;!channel&gt; (alex@northstar.io) finished step 3", via: "bot" },
    ]);
    // Webhook: signed, verified by the receiver with the connection's secret, the event as the body.
    const [received] = sims.webhook.snapshot().deliveries;
    expect(received).toMatchObject({ verified: true, received: 1 });
    expect(JSON.stringify(received?.payload)).toContain("alex@northstar.io");

    // Slack not_in_channel: failed after one attempt, permanent, saying what to do.
    expect(byRule["notify-board"]).toMatchObject({
      status: "failed",
      attempt_count: 1,
      last_outcome: "rejected_client_error",
      next_attempt_at: null,
    });
    expect(byRule["notify-board"]?.last_error).toBe(
      "the Slack app is not a member of channel C0BOARD001: invite it with /invite @YourApp, then retry the delivery",
    );
    const attempts = await engine.attempts.list(eventId, "notify-board");
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 200 });
    expect(sims.slack.snapshot().channels.find((channel) => channel.id === "C0BOARD001")?.messages).toEqual([]);

    // No credential reached any attempt record.
    const recorded = JSON.stringify(
      await Promise.all(["tag-onboarded", "notify-growth", "notify-board", "forward"].map((rule) => engine.attempts.list(eventId, rule))),
    );
    for (const secret of [intercomToken, botToken, webhookSecret]) expect(recorded).not.toContain(secret);
  });
});

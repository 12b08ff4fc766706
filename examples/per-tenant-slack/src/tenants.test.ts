import { createClient } from "@meshwork/events";
import { defineConfig, MeshworkConfigError } from "@meshwork/rules";
import type { SlackSnapshot } from "@meshwork/slack";
import { describe, expect, it } from "vitest";
import { configFor, createTenantEngine, TENANTS } from "./tenants.js";

describe("per-tenant Slack", () => {
  it("each tenant's events reach only that tenant's Slack connection and channel", async () => {
    const engine = createTenantEngine();
    await engine.start();
    try {
      for (const tenant of TENANTS) {
        const meshwork = createClient({ publishableKey: tenant.publishableKey, engine });
        await meshwork.emitAndFlush({ event: "user.signup", payload: { email: `maria@${tenant.id}.example` } });
        await meshwork.close();
      }
      await engine.drain();

      for (const tenant of TENANTS) {
        const slack = engine.sandbox<SlackSnapshot>(`${tenant.id}-slack`).snapshot();
        const messages = slack.channels.flatMap((c) => c.messages.map((m) => [c.id, m.text]));
        expect(messages).toEqual([[tenant.slackChannel.id, `:wave: maria@${tenant.id}.example signed up`]]);
        // The bot token went to that tenant's Slack only, and no attempt record holds it.
        const sent = engine.sandbox(`${tenant.id}-slack`).requests.map((r) => r.headers.authorization);
        expect(sent).toEqual([`Bearer ${tenant.slackBotToken}`]);
        const { records } = await engine.events.list({ workspace: tenant.id });
        expect(records).toHaveLength(1);
        const attempts = await engine.attempts.list(records[0]!.id, `${tenant.id}-signup`);
        expect(attempts).toMatchObject([{ outcome: "delivered" }]);
        for (const other of TENANTS) expect(JSON.stringify(attempts)).not.toContain(other.slackBotToken);
      }
      // A publishable key names exactly one workspace.
      expect(TENANTS.map((t) => engine.workspaceOf(t.publishableKey))).toEqual(["acme", "globex"]);
    } finally {
      await engine.stop();
    }
  });

  it("refuses a rule that uses another tenant's connection", () => {
    const config = configFor(TENANTS);
    config.rules.push({ id: "leak", workspace: "acme", connection: "globex-slack", event: "user.signup", metadata: { action: "send_message", id: "C0GLOBEXCS" } });
    expect(() => defineConfig(config)).toThrow(MeshworkConfigError);
    expect(() => defineConfig(config)).toThrow(/connection "globex-slack" belongs to workspace "globex", not "acme"/);
  });
});

import { testDestination } from "@meshwork/destination-kit/testing";
import { describe, expect } from "vitest";
import { slack, type SlackSimulator } from "./index.js";

const webhookUrl = "https://hooks.slack.com/services/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aw";

describe("bot token connection", () => {
  testDestination<SlackSimulator>(slack(), {
    credentials: { botToken: "xoxb-1111-2222-Y29uZm9ybWFuY2U" },
    seed: (simulator) => simulator.addChannel({ id: "C0GROWTH01", name: "growth" }),
    actions: {
      send_message: {
        metadata: { id: "C0GROWTH01", template: "{{email}} finished step {{sequence_step}}" },
        check: (simulator, result) => {
          const [channel] = simulator.snapshot().channels;
          expect(channel).toMatchObject({ id: "C0GROWTH01", name: "growth" });
          expect(channel?.messages).toEqual([{ ts: expect.any(String), text: "alex@northstar.io finished step 3", via: "bot" }]);
          expect(simulator.requests.map((r) => `${r.method} ${r.url}`)).toEqual(["POST https://slack.com/api/chat.postMessage"]);
          expect(result.message).toMatch(/^message \d+\.\d+ posted to channel C0GROWTH01$/);
        },
      },
    },
  });
});

describe("incoming webhook connection", () => {
  testDestination<SlackSimulator>(slack(), {
    credentials: { webhookUrl },
    seed: (simulator) => {
      simulator.addChannel({ id: "C0ALERTS01", name: "alerts" });
      simulator.addWebhook({ url: webhookUrl, channel: "C0ALERTS01" });
    },
    actions: {
      send_message: {
        metadata: { template: "{{email}} finished step {{sequence_step}}" },
        check: (simulator, result) => {
          const alerts = simulator.snapshot().channels.find((channel) => channel.id === "C0ALERTS01");
          expect(alerts?.messages).toEqual([{ ts: expect.any(String), text: "alex@northstar.io finished step 3", via: "webhook" }]);
          expect(simulator.requests.map((r) => `${r.method} ${r.url}`)).toEqual([`POST ${webhookUrl}`]);
          expect(JSON.stringify(result)).not.toContain("c29uZm9ybWFuY2Utd2ViaG9vaw");
        },
      },
    },
  });
});

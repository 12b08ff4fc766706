import { describe, expect, it } from "vitest";
import { runTestAction } from "@meshwork/destination-kit/testing";
import { createSlackSimulator, slack } from "./index.js";

const botToken = "xoxb-5012-8080-c2FuZGJveA";
const webhookUrl = "https://hooks.slack.com/services/T0NORTH01/B0ALERTS1/c2FuZGJveC13ZWJob29r";

async function postMessage(simulator: ReturnType<typeof createSlackSimulator>, body: unknown, headers: Record<string, string> = {}) {
  const response = await simulator.fetch("https://slack.com/api/chat.postMessage", {
    method: "POST",
    headers: { authorization: `Bearer ${botToken}`, "content-type": "application/json; charset=utf-8", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("createSlackSimulator", () => {
  it("answers like chat.postMessage: HTTP 200 { ok, channel, ts, message }", async () => {
    const simulator = createSlackSimulator({ channels: [{ id: "C0GROWTH01", name: "growth" }], now: () => 1_795_780_800_000 });
    const response = await postMessage(simulator, { channel: "C0GROWTH01", text: "hello" });
    expect(response).toEqual({
      status: 200,
      body: {
        ok: true,
        channel: "C0GROWTH01",
        ts: "1795780800.000001",
        message: { type: "message", subtype: "bot_message", text: "hello", bot_id: "B0SIMULATOR", ts: "1795780800.000001" },
      },
    });
  });

  it.each([
    ["", { channel: "C0GROWTH01", text: "hi" }, "not_authed"],
    ["Bearer nope", { channel: "C0GROWTH01", text: "hi" }, "invalid_auth"],
    [undefined, { channel: "C0NOWHERE0", text: "hi" }, "channel_not_found"],
    [undefined, { channel: "C0ARCHIVE1", text: "hi" }, "is_archived"],
    [undefined, { channel: "C0PRIVATE1", text: "hi" }, "not_in_channel"],
    [undefined, { channel: "C0GROWTH01" }, "no_text"],
    [undefined, { channel: "C0GROWTH01", text: "x".repeat(40_001) }, "msg_too_long"],
    [undefined, { channel: "C0GROWTH01", blocks: [{ text: "no type" }] }, "invalid_blocks"],
  ])("answers HTTP 200 { ok: false } (authorization %j, %j)", async (authorization, body, error) => {
    const simulator = createSlackSimulator({
      strict: true,
      botTokens: [botToken],
      channels: [{ id: "C0GROWTH01" }, { id: "C0ARCHIVE1", archived: true }, { id: "C0PRIVATE1", botMember: false }],
    });
    const response = await postMessage(simulator, body, authorization === undefined ? {} : { authorization });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ok: false, error });
    expect(simulator.snapshot().channels.flatMap((channel) => channel.messages)).toEqual([]);
  });

  it("answers token_revoked after revokeToken", async () => {
    const simulator = createSlackSimulator();
    simulator.revokeToken(botToken);
    const result = await runTestAction(slack(), "send_message", {
      credentials: { botToken },
      metadata: { id: "C0GROWTH01", template: "hi" },
      fetch: simulator.fetch,
    });
    expect(result).toMatchObject({ outcome: "auth_failed", retryable: false });
  });

  it("accepts form-encoded calls and warns about JSON without a charset, as Slack does", async () => {
    const simulator = createSlackSimulator();
    const form = await simulator.fetch("https://slack.com/api/chat.postMessage", {
      method: "POST",
      headers: { authorization: `Bearer ${botToken}`, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ channel: "C0GROWTH01", text: "from a form" }).toString(),
    });
    expect(await form.json()).toMatchObject({ ok: true });
    const json = await postMessage(simulator, { channel: "C0GROWTH01", text: "no charset" }, { "content-type": "application/json" });
    expect(json.body).toMatchObject({ ok: true, warning: "missing_charset", response_metadata: { warnings: ["missing_charset"] } });
  });

  it("outside strict mode, creates unknown channel ids and registers unknown webhook URLs", async () => {
    const simulator = createSlackSimulator();
    await runTestAction(slack(), "send_message", { credentials: { botToken }, metadata: { id: "C0NEW00001", template: "hi" }, fetch: simulator.fetch });
    await runTestAction(slack(), "send_message", { credentials: { webhookUrl }, metadata: { template: "hook" }, fetch: simulator.fetch });
    expect(simulator.snapshot().channels).toEqual([
      { id: "C0NEW00001", name: "c0new00001", archived: false, botMember: true, messages: [{ ts: expect.any(String), text: "hi", via: "bot" }] },
      {
        id: "CINCOMING1",
        name: "incoming-webhook",
        archived: false,
        botMember: true,
        messages: [{ ts: expect.any(String), text: "hook", via: "webhook" }],
      },
    ]);
  });

  it("incoming webhooks answer `ok` or Slack's plain-text errors", async () => {
    const simulator = createSlackSimulator({
      strict: true,
      channels: [{ id: "C0ALERTS01" }, { id: "C0OLD00001", archived: true }],
      webhooks: [
        { url: webhookUrl, channel: "C0ALERTS01" },
        { url: "https://hooks.slack.com/services/T0/B0/archived", channel: "C0OLD00001" },
        { url: "https://hooks.slack.com/services/T0/B0/disabled", channel: "C0ALERTS01", disabled: true },
      ],
    });
    const post = async (url: string, body: string) => {
      const response = await simulator.fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });
      return `${response.status} ${await response.text()}`;
    };
    expect(await post(webhookUrl, JSON.stringify({ text: "hi" }))).toBe("200 ok");
    expect(await post(webhookUrl, "{not json")).toBe("400 invalid_payload");
    expect(await post(webhookUrl, JSON.stringify({}))).toBe("400 no_text");
    expect(await post("https://hooks.slack.com/services/T0/B0/archived", JSON.stringify({ text: "hi" }))).toBe("410 channel_is_archived");
    expect(await post("https://hooks.slack.com/services/T0/B0/disabled", JSON.stringify({ text: "hi" }))).toBe("404 no_service");
    expect(await post("https://hooks.slack.com/services/T0/B0/unknown", JSON.stringify({ text: "hi" }))).toBe("404 no_service");
  });

  it("snapshot lists channels with their messages", async () => {
    const simulator = createSlackSimulator({ channels: [{ id: "C0GROWTH01", name: "growth" }], webhooks: [{ url: webhookUrl, channel: "C0GROWTH01" }] });
    const blocks = [{ type: "section", text: { type: "mrkdwn", text: "*{{email}}*" } }];
    await runTestAction(slack(), "send_message", { credentials: { botToken }, metadata: { id: "C0GROWTH01", template: "one", blocks }, fetch: simulator.fetch });
    await runTestAction(slack(), "send_message", { credentials: { webhookUrl }, metadata: { template: "two" }, fetch: simulator.fetch });
    expect(simulator.snapshot()).toEqual({
      channels: [
        {
          id: "C0GROWTH01",
          name: "growth",
          archived: false,
          botMember: true,
          messages: [
            { ts: expect.any(String), text: "one", blocks: [{ type: "section", text: { type: "mrkdwn", text: "*alex@northstar.io*" } }], via: "bot" },
            { ts: expect.any(String), text: "two", via: "webhook" },
          ],
        },
      ],
    });
  });
});

import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import errorBody from "../__fixtures__/chat-postMessage-error.json";
import invalidBlocks from "../__fixtures__/chat-postMessage-invalid-blocks.json";
import missingScope from "../__fixtures__/chat-postMessage-missing-scope.json";
import ok from "../__fixtures__/chat-postMessage-ok.json";
import ratelimited from "../__fixtures__/chat-postMessage-ratelimited.json";
import warning from "../__fixtures__/chat-postMessage-warning.json";
import { captureRequest, runTestAction, type SentRequest } from "@meshwork/destination-kit/testing";
import { slack } from "../index.js";
import { sendMessage } from "./send-message.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const botToken = "xoxb-5012-8080-bWVzaHdvcmstYm90LXRva2Vu";
const bot = { botToken };
const POST_MESSAGE = "https://slack.com/api/chat.postMessage";
const secretPart = "d2ViaG9vay1zZWNyZXQtcGF0aA";
const webhookUrl = `https://hooks.slack.com/services/T0NORTH01/B0ALERTS1/${secretPart}`;

function postMessage(answer: (request: Request) => Response | Promise<Response> = () => HttpResponse.json(ok)) {
  const sent: SentRequest[] = [];
  server.use(
    http.post(POST_MESSAGE, async ({ request }) => {
      sent.push(await captureRequest(request));
      return answer(request);
    }),
  );
  return sent;
}

function incomingWebhook(answer: () => Response = () => HttpResponse.text("ok"), url = webhookUrl) {
  const sent: SentRequest[] = [];
  server.use(
    http.post(url, async ({ request }) => {
      sent.push(await captureRequest(request));
      return answer();
    }),
  );
  return sent;
}

describe("send_message with a bot token", () => {
  it("posts { channel, text } to chat.postMessage with the bot token and a JSON charset", async () => {
    const sent = postMessage();
    const result = await runTestAction(slack(), "send_message", {
      credentials: bot,
      metadata: { id: "C0GROWTH01", template: "{{email}} finished step {{sequence_step}}" },
    });
    expect(result).toMatchObject({ outcome: "delivered", status: 200, message: "message 1503435956.000247 posted to channel C0GROWTH01" });
    expect(sent).toEqual([
      {
        method: "POST",
        url: POST_MESSAGE,
        headers: expect.objectContaining({
          authorization: `Bearer ${botToken}`,
          "content-type": "application/json; charset=utf-8",
        }),
        body: { channel: "C0GROWTH01", text: "alex@northstar.io finished step 3" },
      },
    ]);
    expect(JSON.stringify(result)).not.toContain(botToken);
    expect(result.exchanges[0]?.request.headers.authorization).toBe("[REDACTED]");
  });

  it("escapes interpolated values so a payload cannot ping @channel or inject a link", async () => {
    const sent = postMessage();
    const result = await runTestAction(slack(), "send_message", {
      credentials: bot,
      metadata: { id: "C0GROWTH01", template: "<!here> *New signup*: {{user.name}} ({{email}})" },
      payload: { email: "alex@northstar.io", user: { name: "<!channel> <https://evil|click> & co" } },
    });
    expect(result.outcome).toBe("delivered");
    expect((sent[0]?.body as { text: string }).text).toBe(
      "<!here> *New signup*: &lt;!channel&gt; &lt;https://evil|click&gt; &amp; co (alex@northstar.io)",
    );
  });

  it("`text` works as an alias of `template`", async () => {
    const sent = postMessage();
    await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", text: "step {{sequence_step}}" } });
    expect(sent[0]?.body).toEqual({ channel: "C0GROWTH01", text: "step 3" });
  });

  it("renders the text inside Block Kit blocks with the same escaping", async () => {
    const sent = postMessage();
    const blocks = [
      { type: "section", text: { type: "mrkdwn", text: "*{{user.name}}* reached step {{sequence_step}}" } },
      { type: "context", elements: [{ type: "mrkdwn", text: "<!here> {{email}}" }] },
      { type: "divider" },
    ];
    await runTestAction(slack(), "send_message", {
      credentials: bot,
      metadata: { id: "C0GROWTH01", template: "{{user.name}} reached step {{sequence_step}}", blocks },
      payload: { email: "alex@northstar.io", sequence_step: 3, user: { name: "<@U0ADMIN> Alex" } },
    });
    expect(sent[0]?.body).toEqual({
      channel: "C0GROWTH01",
      text: "&lt;@U0ADMIN&gt; Alex reached step 3",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "*&lt;@U0ADMIN&gt; Alex* reached step 3" } },
        { type: "context", elements: [{ type: "mrkdwn", text: "<!here> alex@northstar.io" }] },
        { type: "divider" },
      ],
    });
  });

  it("renders a templated channel id from the payload", async () => {
    const sent = postMessage();
    await runTestAction(slack(), "send_message", {
      credentials: bot,
      metadata: { id: "{{team.slack_channel}}", template: "hi" },
      payload: { team: { slack_channel: "C0TEAM0042" } },
    });
    expect(sent[0]?.body).toMatchObject({ channel: "C0TEAM0042" });
  });

  it("text over 40,000 characters → mapping_error with a clear message, nothing sent", async () => {
    const result = await runTestAction(slack(), "send_message", {
      credentials: bot,
      metadata: { id: "C0GROWTH01", template: "{{notes}}" },
      payload: { notes: "x".repeat(40_001) },
    });
    expect(result).toMatchObject({ outcome: "mapping_error", retryable: false });
    expect(result.message).toBe(
      "the rendered message has 40,001 characters and Slack accepts at most 40,000: shorten the rule's template or the values it shows",
    );
    expect(result.exchanges).toEqual([]);
  });

  it("a missing payload value → mapping_error naming the path", async () => {
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hi {{user.name}}" } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.message).toContain('"user.name"');
  });

  it("no channel id on a bot-token connection → mapping_error", async () => {
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { template: "hi" } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.message).toMatch(/metadata\.id/);
  });

  it("neither template nor blocks → mapping_error", async () => {
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01" } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.message).toMatch(/needs a template/);
  });

  it("not_in_channel → permanent, telling the user to invite the app to that channel", async () => {
    postMessage(() => HttpResponse.json(errorBody));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C123", template: "hi" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 200 });
    expect(result.message).toBe("the Slack app is not a member of channel C123: invite it with /invite @YourApp, then retry the delivery");
  });

  it.each([
    ["channel_not_found", "rejected_client_error", false, /cannot find channel C0GROWTH01.*channel ID/],
    ["is_archived", "rejected_client_error", false, /Channel C0GROWTH01 is archived.*unarchive/],
    ["msg_too_long", "rejected_client_error", false, /too long/],
    ["no_text", "rejected_client_error", false, /without text/],
    ["restricted_action", "rejected_client_error", false, /restricted_action.*ask an admin/],
    ["restricted_action_read_only_channel", "rejected_client_error", false, /restricted_action_read_only_channel/],
    ["invalid_blocks", "rejected_client_error", false, /Block Kit Builder/],
    ["invalid_arguments", "rejected_client_error", false, /invalid_arguments/],
    ["not_authed", "auth_failed", false, /set the connection's botToken/],
    ["invalid_auth", "auth_failed", false, /reinstall the Slack app/],
    ["account_inactive", "auth_failed", false, /deactivated/],
    ["token_revoked", "auth_failed", false, /revoked/],
    ["no_permission", "auth_failed", false, /no_permission/],
    ["missing_scope", "auth_failed", false, /scope/],
    ["rate_limited", "rate_limited", true, /rate-limited/],
    ["ratelimited", "rate_limited", true, /rate-limited/],
    ["internal_error", "rejected_server_error", true, /internal_error.*retried/],
    ["fatal_error", "rejected_server_error", true, /fatal_error/],
    ["request_timeout", "rejected_server_error", true, /request_timeout/],
    ["some_new_error", "rejected_client_error", false, /^Slack refused the message: some_new_error$/],
  ] as const)("HTTP 200 { ok: false, error: %s } → %s", async (code, outcome, retryable, message) => {
    postMessage(() => HttpResponse.json({ ...errorBody, error: code }));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hi" } });
    expect(result).toMatchObject({ outcome, retryable });
    expect(result.message).toMatch(message);
  });

  it("missing_scope names the scope Slack says is needed", async () => {
    postMessage(() => HttpResponse.json(missingScope));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hi" } });
    expect(result.message).toMatch(/lacks the chat:write scope \(missing_scope\): add it under OAuth & Permissions/);
  });

  it("invalid_blocks passes on Slack's explanation", async () => {
    postMessage(() => HttpResponse.json(invalidBlocks));
    const result = await runTestAction(slack(), "send_message", {
      credentials: bot,
      metadata: { id: "C0GROWTH01", blocks: [{ type: "section", text: "plain string" }] },
    });
    expect(result).toMatchObject({ outcome: "rejected_client_error" });
    expect(result.message).toContain("must provide an object [json-pointer:/blocks/0/text]");
  });

  it("HTTP 429 { ok: false, error: ratelimited } with Retry-After → rate_limited after that delay", async () => {
    postMessage(() => HttpResponse.json(ratelimited, { status: 429, headers: { "retry-after": "30" } }));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hi" } });
    expect(result).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 30_000, status: 429 });
  });

  it("HTTP 200 rate_limited without Retry-After → rate_limited, left to the engine's backoff", async () => {
    postMessage(() => HttpResponse.json({ ok: false, error: "rate_limited" }));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hi" } });
    expect(result).toMatchObject({ outcome: "rate_limited", retryable: true });
    expect(result.retryAfterMs).toBeUndefined();
  });

  it("a 200 without `ok: true` is not counted as delivered", async () => {
    postMessage(() => HttpResponse.json({ channel: "C0GROWTH01" }));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hi" } });
    expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true });
  });

  it("keeps Slack's warnings as notes", async () => {
    postMessage(() => HttpResponse.json(warning));
    const result = await runTestAction(slack(), "send_message", { credentials: bot, metadata: { id: "C0GROWTH01", template: "hello" } });
    expect(result.notes).toEqual(["Slack warning: missing_charset"]);
  });
});

describe("send_message with an incoming webhook", () => {
  it("posts { text } to the webhook URL without an Authorization header; plain-text `ok` is delivered", async () => {
    const sent = incomingWebhook();
    const result = await runTestAction(slack(), "send_message", {
      credentials: { webhookUrl },
      metadata: { template: "{{email}} finished step {{sequence_step}}" },
    });
    expect(result).toMatchObject({ outcome: "delivered", status: 200, message: "message posted through the incoming webhook" });
    expect(sent).toEqual([
      {
        method: "POST",
        url: webhookUrl,
        headers: expect.objectContaining({ "content-type": "application/json; charset=utf-8" }),
        body: { text: "alex@northstar.io finished step 3" },
      },
    ]);
    expect(sent[0]?.headers.authorization).toBeUndefined();
  });

  it("never puts the webhook URL in the attempt record", async () => {
    incomingWebhook(() => HttpResponse.text("channel_not_found", { status: 404 }));
    const result = await runTestAction(slack(), "send_message", { credentials: { webhookUrl }, metadata: { template: "hi" } });
    const recorded = JSON.stringify(result);
    expect(recorded).not.toContain(webhookUrl);
    expect(recorded).not.toContain(secretPart);
    expect(recorded).not.toContain(encodeURIComponent(webhookUrl));
    expect(result.exchanges[0]?.request.url).toBe("[REDACTED]");
  });

  it("redacts the webhook's secret path when a baseUrl override sends it elsewhere", async () => {
    const sent = incomingWebhook(undefined, `https://egress-proxy.internal/services/T0NORTH01/B0ALERTS1/${secretPart}`);
    const result = await runTestAction(slack({ baseUrl: "https://egress-proxy.internal" }), "send_message", {
      credentials: { webhookUrl },
      metadata: { template: "hi" },
    });
    expect(result.outcome).toBe("delivered");
    expect(sent).toHaveLength(1);
    expect(result.exchanges[0]?.request.url).toBe("https://egress-proxy.internal[REDACTED]");
    expect(JSON.stringify(result)).not.toContain(secretPart);
  });

  it("sends blocks, and notes that metadata.id is not used", async () => {
    const sent = incomingWebhook();
    const result = await runTestAction(slack(), "send_message", {
      credentials: { webhookUrl },
      metadata: { id: "C0GROWTH01", blocks: [{ type: "section", text: { type: "mrkdwn", text: "step {{sequence_step}}" } }] },
    });
    expect(sent[0]?.body).toEqual({ blocks: [{ type: "section", text: { type: "mrkdwn", text: "step 3" } }] });
    expect(result.notes).toEqual(["metadata.id (C0GROWTH01) is not used: an incoming webhook always posts to its own channel"]);
  });

  it.each([
    [400, "invalid_payload", "rejected_client_error", false, /invalid_payload/],
    [400, "no_text", "rejected_client_error", false, /without text/],
    [403, "action_prohibited", "rejected_client_error", false, /action_prohibited/],
    [404, "channel_not_found", "rejected_client_error", false, /no longer exists.*update the connection's webhookUrl/],
    [404, "no_service", "rejected_client_error", false, /disabled.*update the connection's webhookUrl/],
    [410, "channel_is_archived", "rejected_client_error", false, /archived/],
    [500, "rollup_error", "rejected_server_error", true, /rollup_error.*retried/],
  ] as const)("%i %s → %s", async (status, code, outcome, retryable, message) => {
    incomingWebhook(() => HttpResponse.text(code, { status }));
    const result = await runTestAction(slack(), "send_message", { credentials: { webhookUrl }, metadata: { template: "hi" } });
    expect(result).toMatchObject({ outcome, retryable, status });
    expect(result.message).toMatch(message);
    expect(result.disableConnection).toBeUndefined();
  });

  it("429 with Retry-After → rate_limited after that delay", async () => {
    incomingWebhook(() => HttpResponse.text("rate_limited", { status: 429, headers: { "retry-after": "12" } }));
    const result = await runTestAction(slack(), "send_message", { credentials: { webhookUrl }, metadata: { template: "hi" } });
    expect(result).toMatchObject({ outcome: "rate_limited", retryable: true, retryAfterMs: 12_000 });
  });

  it("a 200 whose body is not `ok` (an HTML page) is not delivered", async () => {
    incomingWebhook(() => HttpResponse.html("<html>Sign in to Slack</html>"));
    const result = await runTestAction(slack(), "send_message", { credentials: { webhookUrl }, metadata: { template: "hi" } });
    expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true });
  });
});

describe("credentials and limits", () => {
  it.each([
    [{ webhookUrl: "https://attacker.example/services/T/B/x" }, /webhookUrl: must be a Slack incoming-webhook URL/],
    [{ webhookUrl: "http://hooks.slack.com/services/T/B/x" }, /webhookUrl: must be a Slack incoming-webhook URL/],
    [{}, /needs a botToken/],
    [{ botToken, webhookUrl }, /not both/],
  ])("refuses invalid credentials %#, never echoing the URL", async (credentials, message) => {
    const result = await runTestAction(slack(), "send_message", { credentials, metadata: { id: "C1", template: "hi" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toMatch(message);
    expect(result.message).not.toContain("attacker.example");
    expect(result.exchanges).toEqual([]);
  });

  it("limits one message per second per channel, and 50 a minute per connection", () => {
    expect(sendMessage.rateLimit).toMatchObject({ requests: 1, perMs: 1000 });
    expect(sendMessage.rateLimit?.key({ id: "C0GROWTH01" })).toBe("C0GROWTH01");
    expect(sendMessage.rateLimit?.key({ template: "hi" })).toBe("webhook");
    expect(slack().rateLimit).toEqual({ requests: 50, perMs: 60_000 });
  });
});

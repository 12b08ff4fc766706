import { defineDestination } from "@meshwork/destination-kit";
import { sendMessage } from "./actions/send-message.js";
import { isWebhookConnection, slackCredentialsSchema } from "./credentials.js";
import { classifySlackResponse } from "./errors.js";
import { createSlackSimulator } from "./simulator.js";
import type { SlackOptions } from "./types.js";

/** Base URL of Slack's Web API. */
export const SLACK_API_BASE_URL = "https://slack.com/api";

/**
 * The Slack destination: `send_message` with a bot token (`chat.postMessage` to the channel in the
 * rule's `metadata.id`) or an incoming webhook. Posting is limited to one message per second per
 * channel, and by default to 50 messages a minute per connection.
 *
 * @example
 * import { slack } from "@meshwork/slack";
 * const engine = createEngine({ config, destinations: [slack()] });
 * // connection credentials: { botToken: env("SLACK_BOT_TOKEN") } or { webhookUrl: env("SLACK_WEBHOOK_URL") }
 * // rule metadata: { action: "send_message", id: "C0123456789", template: "{{email}} finished step {{sequence_step}}" }
 */
export const slack = (options: SlackOptions = {}) => {
  const { simulator, ...destinationOptions } = options;
  return defineDestination({
    type: "slack",
    name: "Slack",
    options: destinationOptions,
    credentials: slackCredentialsSchema,
    baseUrl: (credentials) => (isWebhookConnection(credentials) ? new URL(credentials.webhookUrl).origin : SLACK_API_BASE_URL),
    headers: (credentials) => ({
      "content-type": "application/json; charset=utf-8",
      ...(!isWebhookConnection(credentials) && { authorization: `Bearer ${credentials.botToken}` }),
    }),
    rateLimit: { requests: 50, perMs: 60_000 },
    classify: classifySlackResponse,
    // The whole webhook URL is the secret, and so is its path when a baseUrl override sends it elsewhere.
    redactCredentials: (credentials) =>
      isWebhookConnection(credentials) ? [credentials.webhookUrl, new URL(credentials.webhookUrl).pathname] : [credentials.botToken],
    actions: { send_message: sendMessage },
    sandbox: () => simulator ?? createSlackSimulator(),
  });
};

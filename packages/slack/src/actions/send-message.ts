import { defineAction, hasTemplate, MappingError, renderTemplate, RetryableError } from "@meshwork/destination-kit";
import { z } from "zod";
import { isWebhookConnection } from "../credentials.js";
import { slackApiError, slackFailureOf } from "../errors.js";
import { renderSlackBlocks, renderSlackText } from "../render.js";
import type { SlackCredentials } from "../types.js";

/** Slack truncates or refuses `text` beyond this many characters. */
export const SLACK_TEXT_LIMIT = 40_000;
/** Slack accepts at most this many blocks in one message. */
export const SLACK_BLOCK_LIMIT = 50;

const sendMessageMetadata = z
  .object({
    id: z.string().trim().min(1).optional(),
    template: z.string().optional(),
    text: z.string().optional(),
    blocks: z
      .array(z.looseObject({ type: z.string().min(1) }))
      .min(1)
      .max(SLACK_BLOCK_LIMIT, `Slack accepts at most ${SLACK_BLOCK_LIMIT} blocks in a message`)
      .optional(),
  })
  .refine((metadata) => !(metadata.template !== undefined && metadata.text !== undefined), {
    message: "give either template or text (they mean the same), not both",
  })
  .refine((metadata) => metadata.template !== undefined || metadata.text !== undefined || metadata.blocks !== undefined, {
    message: "a Slack message needs a template (or text) or blocks",
  });

interface PostMessageResponse {
  ok: boolean;
  channel?: string;
  ts?: string;
  warning?: string;
}

/**
 * `send_message`: renders the rule's template (values from the payload escaped) and posts it with
 * `chat.postMessage` to the channel in `metadata.id`, or to the connection's incoming webhook.
 */
export const sendMessage = defineAction<typeof sendMessageMetadata, SlackCredentials>({
  description: "Post a message rendered from the rule's template to a Slack channel (bot token) or incoming webhook",
  metadata: sendMessageMetadata,
  renderTemplates: false,
  rateLimit: { requests: 1, perMs: 1000, key: (metadata) => metadata.id ?? "webhook" },
  async perform({ payload, metadata, credentials, request, log }) {
    const template = metadata.template ?? metadata.text;
    const text = template === undefined ? undefined : renderSlackText(template, payload);
    if (text !== undefined && text.length > SLACK_TEXT_LIMIT) {
      throw new MappingError(
        `the rendered message has ${text.length.toLocaleString("en-US")} characters and Slack accepts at most ` +
          `${SLACK_TEXT_LIMIT.toLocaleString("en-US")}: shorten the rule's template or the values it shows`,
      );
    }
    if (text !== undefined && !text.trim() && !metadata.blocks) {
      throw new MappingError("the rendered message is empty: give the rule a template that renders to some text");
    }
    const blocks = metadata.blocks && renderSlackBlocks(metadata.blocks, payload);
    const message = { ...(text !== undefined && { text }), ...(blocks && { blocks }) };

    if (isWebhookConnection(credentials)) {
      if (metadata.id) log.info(`metadata.id (${metadata.id}) is not used: an incoming webhook always posts to its own channel`);
      const url = new URL(credentials.webhookUrl);
      const { status, data } = await request<string>(`${url.pathname}${url.search}`, {
        method: "POST",
        body: message,
        headers: { accept: "*/*" },
        responseType: "text",
      });
      if (typeof data !== "string" || data.trim() !== "ok") {
        throw new RetryableError(`Slack's incoming webhook answered ${status} without the documented body "ok"`, { status });
      }
      return { summary: "message posted through the incoming webhook" };
    }

    if (!metadata.id) {
      throw new MappingError("metadata.id: a bot-token connection needs the channel ID (like C0123456789) in the rule's metadata.id");
    }
    const channel = hasTemplate(metadata.id) ? String(renderTemplate(metadata.id, payload)) : metadata.id;
    let data: PostMessageResponse;
    try {
      ({ data } = await request<PostMessageResponse>("/chat.postMessage", { method: "POST", body: { channel, ...message } }));
    } catch (error) {
      const failure = slackFailureOf(error);
      // Name the channel in the message, which the response itself does not.
      if (failure?.via === "api") throw slackApiError(failure, channel);
      throw error;
    }
    if (data?.ok !== true) throw new RetryableError("Slack answered chat.postMessage without the documented `ok: true`");
    if (data.warning) log.info(`Slack warning: ${data.warning}`);
    return { summary: `message${data.ts ? ` ${data.ts}` : ""} posted to channel ${data.channel ?? channel}` };
  },
});

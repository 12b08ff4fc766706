import { z } from "zod";
import type { SlackCredentials, SlackWebhookCredentials } from "./types.js";

const WEBHOOK_HOSTS = new Set(["hooks.slack.com", "hooks.slack-gov.com"]);

/** True when the URL is a Slack incoming webhook (`https://hooks.slack.com/services/…`). */
export function isSlackWebhookUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" && WEBHOOK_HOSTS.has(url.hostname) && url.pathname.startsWith("/services/");
  } catch {
    return false;
  }
}

/** `{ botToken }` or `{ webhookUrl }`; exactly one of the two. */
export const slackCredentialsSchema = z
  .object({
    botToken: z.string().trim().min(1).optional(),
    webhookUrl: z.string().trim().min(1).optional(),
  })
  .superRefine((value, context) => {
    if (value.botToken && value.webhookUrl) {
      context.addIssue({ code: "custom", message: "give either botToken or webhookUrl, not both" });
    } else if (!value.botToken && !value.webhookUrl) {
      context.addIssue({ code: "custom", message: "a Slack connection needs a botToken (xoxb-…) or a webhookUrl" });
    } else if (value.webhookUrl && !isSlackWebhookUrl(value.webhookUrl)) {
      // The URL is a secret: never echo it.
      context.addIssue({
        code: "custom",
        path: ["webhookUrl"],
        message: "must be a Slack incoming-webhook URL: https://hooks.slack.com/services/T…/B…/…",
      });
    }
  })
  .transform((value) => value as SlackCredentials);

/** Narrows credentials to the incoming-webhook kind. */
export function isWebhookConnection(credentials: SlackCredentials): credentials is SlackWebhookCredentials {
  return "webhookUrl" in credentials && typeof credentials.webhookUrl === "string";
}

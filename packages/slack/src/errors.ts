import {
  AuthError,
  DestinationError,
  parseRetryAfter,
  PermanentError,
  RateLimitedError,
  RetryableError,
  type ResponseClassifier,
} from "@meshwork/destination-kit";

/** Slack Web API error codes that a retry cannot fix: the configuration must change (`restricted_action` covers every `restricted_action_*`). */
export const SLACK_PERMANENT_ERRORS: readonly string[] = [
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "msg_too_long",
  "no_text",
  "restricted_action",
  "invalid_blocks",
  "invalid_arguments",
];
/** Slack Web API error codes meaning the token itself is refused. */
export const SLACK_AUTH_ERRORS: readonly string[] = [
  "not_authed",
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "no_permission",
  "missing_scope",
];
/** Slack Web API error codes a later attempt can get past. */
export const SLACK_RETRYABLE_ERRORS: readonly string[] = ["internal_error", "fatal_error", "request_timeout"];
/** Slack Web API error codes asking us to slow down. */
export const SLACK_RATE_LIMIT_ERRORS: readonly string[] = ["rate_limited", "ratelimited"];

/** What a failed Slack call said, kept on the error so the action can name the channel. */
export interface SlackFailure {
  code: string;
  status?: number;
  retryAfterMs?: number;
  /** For `missing_scope`: the scope the method needs. */
  needed?: string;
  /** Slack's `response_metadata.messages`, e.g. which block is invalid. */
  details?: string[];
  /** Where the message went: a bot-token call or an incoming webhook. */
  via: "api" | "webhook";
}

const failures = new WeakMap<DestinationError, SlackFailure>();

/** The Slack failure behind an error raised by `classifySlackResponse`, if it is one. */
export function slackFailureOf(error: unknown): SlackFailure | undefined {
  return DestinationError.isInstance(error) ? failures.get(error) : undefined;
}

/**
 * The typed error for a Slack Web API error code, with a message saying what to do. Unknown codes
 * are permanent and named in the message.
 */
export function slackApiError(failure: Omit<SlackFailure, "via">, channel?: string): DestinationError {
  const { code, status } = failure;
  const where = channel ? `channel ${channel}` : "the channel in the rule's metadata.id";
  const details = failure.details?.length ? ` (${failure.details.join("; ")})` : "";
  const reinstall = "reinstall the Slack app to the workspace and update the connection's botToken";
  const options = status === undefined ? {} : { status };
  let error: DestinationError;
  if (SLACK_RATE_LIMIT_ERRORS.includes(code)) {
    error = new RateLimitedError(`Slack rate-limited the app (${code}); the delivery will be retried later`, {
      ...options,
      ...(failure.retryAfterMs !== undefined && { retryAfterMs: failure.retryAfterMs }),
    });
  } else if (SLACK_RETRYABLE_ERRORS.includes(code)) {
    error = new RetryableError(`Slack failed to post the message (${code}); the delivery will be retried`, options);
  } else if (SLACK_AUTH_ERRORS.includes(code)) {
    const message: Record<string, string> = {
      not_authed: "Slack received no token (not_authed): set the connection's botToken",
      invalid_auth: `Slack does not accept the bot token (invalid_auth): ${reinstall}`,
      account_inactive: `the bot token belongs to a deactivated user or workspace (account_inactive): ${reinstall}`,
      token_revoked: `the bot token was revoked (token_revoked): ${reinstall}`,
      no_permission: `the bot token may not call chat.postMessage (no_permission): give the app permission to post, then ${reinstall}`,
      missing_scope: `the bot token lacks the ${failure.needed ?? "chat:write"} scope (missing_scope): add it under OAuth & Permissions, then ${reinstall}`,
    };
    error = new AuthError(message[code]!, options);
  } else if (code === "not_in_channel") {
    error = new PermanentError(
      `the Slack app is not a member of ${where}: invite it with /invite @YourApp, then retry the delivery`,
      options,
    );
  } else if (code === "channel_not_found") {
    error = new PermanentError(
      `Slack cannot find ${where} (channel_not_found): set the rule's metadata.id to a channel ID such as C0123456789 ` +
        "(not its #name) in the bot's workspace; for a private channel, invite the app first",
      options,
    );
  } else if (code === "is_archived") {
    error = new PermanentError(
      `${where[0]!.toUpperCase()}${where.slice(1)} is archived (is_archived): unarchive it or point the rule at another channel, then retry the delivery`,
      options,
    );
  } else if (code === "msg_too_long") {
    error = new PermanentError("Slack says the message is too long (msg_too_long): shorten the rule's template", options);
  } else if (code === "no_text") {
    error = new PermanentError("Slack got a message without text (no_text): give the rule a template or blocks", options);
  } else if (code.startsWith("restricted_action")) {
    error = new PermanentError(
      `Slack does not let the app post to ${where} (${code}): posting there is restricted by a workspace admin or ` +
        "the channel's settings; ask an admin to allow the app, then retry the delivery",
      options,
    );
  } else if (code === "invalid_blocks" || code === "invalid_blocks_format") {
    error = new PermanentError(
      `Slack rejected the rule's blocks (${code})${details}: check them in Block Kit Builder (https://app.slack.com/block-kit-builder)`,
      options,
    );
  } else if (code === "invalid_arguments") {
    error = new PermanentError(`Slack rejected the message's arguments (invalid_arguments)${details}: check the rule's metadata`, options);
  } else {
    error = new PermanentError(`Slack refused the message: ${code}${details}`, options);
  }
  failures.set(error, { ...failure, via: "api" });
  return error;
}

/**
 * The typed error for an incoming webhook's plain-text answer (`invalid_payload`, `no_service`, …),
 * with a message saying what to do.
 */
export function slackWebhookError(code: string, status: number, retryAfterMs?: number): DestinationError {
  const newWebhook = "create a new incoming webhook in the Slack app's settings and update the connection's webhookUrl";
  let error: DestinationError;
  if (status === 429) {
    error = new RateLimitedError(`Slack rate-limited the incoming webhook (429${code ? ` ${code}` : ""}); the delivery will be retried later`, {
      status,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    });
  } else if (status >= 500 || code === "rollup_error") {
    error = new RetryableError(`Slack's incoming webhook failed (${status} ${code}); the delivery will be retried`, { status });
  } else {
    const message: Record<string, string> = {
      invalid_payload: "the incoming webhook rejected the message (invalid_payload): check the rule's template and blocks",
      no_text: "the incoming webhook got a message without text (no_text): give the rule a template or blocks",
      action_prohibited:
        "Slack does not let this incoming webhook post (action_prohibited): an admin restricted posting to its channel; ask them to allow the app",
      channel_not_found: `the channel of this incoming webhook no longer exists (channel_not_found): ${newWebhook}`,
      no_service: `the incoming webhook is disabled or its URL is wrong (no_service): ${newWebhook}`,
      channel_is_archived: `the incoming webhook's channel is archived (channel_is_archived): unarchive it, or ${newWebhook} for another channel`,
    };
    error = new PermanentError(message[code] ?? `Slack's incoming webhook refused the message: ${status} ${code}`, { status });
  }
  failures.set(error, { code, status, via: "webhook", ...(retryAfterMs !== undefined && { retryAfterMs }) });
  return error;
}

interface SlackApiBody {
  ok?: unknown;
  error?: unknown;
  needed?: unknown;
  response_metadata?: { messages?: unknown };
}

/**
 * Slack's answers that the status alone does not classify: a Web API `{ ok: false, error }` (almost
 * always HTTP 200) and an incoming webhook's plain-text error code. Anything else (a 429 or 5xx
 * without a Slack body, a 401 from a proxy) falls back to the default status rules.
 */
export const classifySlackResponse: ResponseClassifier = ({ status, headers, data }) => {
  const retryAfterMs = parseRetryAfter(headers.get("retry-after"));
  if (data && typeof data === "object" && (data as SlackApiBody).ok === false) {
    const body = data as SlackApiBody;
    const messages = body.response_metadata?.messages;
    return slackApiError({
      code: typeof body.error === "string" ? body.error : "unknown_error",
      status,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
      ...(typeof body.needed === "string" && { needed: body.needed }),
      ...(Array.isArray(messages) && { details: messages.filter((m): m is string => typeof m === "string") }),
    });
  }
  if (typeof data === "string" && status >= 400) {
    const code = data.trim();
    if (/^[a-z][a-z0-9_]*$/.test(code) || (status === 429 && code === "")) return slackWebhookError(code, status, retryAfterMs);
  }
  return undefined;
};

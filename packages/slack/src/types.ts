import type { DestinationOptions, Simulator } from "@meshwork/destination-kit";

/** A Slack connection posting with a bot token to the channel each rule names in `metadata.id`. */
export interface SlackBotCredentials {
  /** A bot token (`xoxb-…`) with the `chat:write` scope. */
  botToken: string;
}

/** A Slack connection posting to one incoming webhook; the whole URL is a secret. */
export interface SlackWebhookCredentials {
  /** `https://hooks.slack.com/services/T…/B…/…` */
  webhookUrl: string;
}

/** Connection credentials of a Slack connection: a bot token, or an incoming-webhook URL. */
export type SlackCredentials = SlackBotCredentials | SlackWebhookCredentials;

/** Options of the `slack()` factory. */
export interface SlackOptions extends DestinationOptions {
  /** The simulator sandbox connections use; default: a fresh `createSlackSimulator()` each time. */
  simulator?: SlackSimulator;
}

/** A Block Kit block, passed through with its text fields rendered. */
export type SlackBlock = Record<string, unknown> & { type: string };

/** Rule metadata of `send_message`. */
export interface SlackSendMessageMetadata {
  /** The channel id (`C…`) for bot-token connections; ignored by incoming webhooks. */
  id?: string;
  /** The message, with `{{path}}` placeholders filled from the payload (values escaped). */
  template?: string;
  /** Alias of `template`. */
  text?: string;
  /** Block Kit blocks; their text fields are rendered like the template. */
  blocks?: SlackBlock[];
}

/** A channel to seed into the simulator. */
export interface SlackChannelSeed {
  id: string;
  name?: string;
  archived?: boolean;
  /** Whether the bot is a member (default true). */
  botMember?: boolean;
}

/** An incoming webhook registered in the simulator. */
export interface SlackWebhookSeed {
  url: string;
  /** The channel it posts to. */
  channel: string;
  /** A disabled webhook answers 404 `no_service`. */
  disabled?: boolean;
}

/** Options of `createSlackSimulator`. */
export interface SlackSimulatorOptions {
  channels?: SlackChannelSeed[];
  webhooks?: SlackWebhookSeed[];
  /** Bot tokens the simulator accepts; default: any `xox…` token. */
  botTokens?: string[];
  /**
   * Answer `channel_not_found` / `no_service` for channels and webhooks the simulator does not know,
   * as Slack does. Off by default so a sandbox connection can run production rules: unknown channel
   * ids are then created (bot a member) and unknown webhook URLs are registered to a channel named
   * `incoming-webhook`.
   */
  strict?: boolean;
  /** Clock in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

/** A message the simulator accepted. */
export interface SlackSnapshotMessage {
  ts: string;
  text?: string;
  blocks?: unknown[];
  /** How it arrived. */
  via: "bot" | "webhook";
}

/** A channel in a simulator snapshot, with the messages posted to it. */
export interface SlackSnapshotChannel {
  id: string;
  name: string;
  archived: boolean;
  botMember: boolean;
  messages: SlackSnapshotMessage[];
}

/** What a Slack simulator holds. */
export interface SlackSnapshot {
  channels: SlackSnapshotChannel[];
}

/** The in-memory Slack API (chat.postMessage and incoming webhooks) for sandbox connections and tests. */
export interface SlackSimulator extends Simulator<SlackSnapshot> {
  addChannel(channel: SlackChannelSeed): void;
  addWebhook(webhook: SlackWebhookSeed): void;
  /** Later calls with this token answer `{ ok: false, error: "token_revoked" }`. */
  revokeToken(token: string): void;
}

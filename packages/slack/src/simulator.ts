import { createSimulator, createSimulatorApp } from "@meshwork/destination-kit";
import type { Context } from "hono";
import type {
  SlackChannelSeed,
  SlackSimulator,
  SlackSimulatorOptions,
  SlackSnapshot,
  SlackSnapshotMessage,
  SlackWebhookSeed,
} from "./types.js";

interface Channel {
  id: string;
  name: string;
  archived: boolean;
  botMember: boolean;
  messages: SlackSnapshotMessage[];
}

interface Webhook {
  channel: string;
  disabled: boolean;
}

const TEXT_LIMIT = 40_000;
const BLOCK_LIMIT = 50;

/**
 * Creates an in-memory Slack: channels (archived or not, bot member or not), `chat.postMessage`
 * with Slack's HTTP-200 `{ ok: false, error }` answers, and incoming webhooks answering `ok` or
 * their plain-text error codes. Sandbox connections run the real adapter against it.
 *
 * @example
 * const simulator = createSlackSimulator({ channels: [{ id: "C0123456789", name: "growth", botMember: false }] });
 * // chat.postMessage to C0123456789 → { ok: false, error: "not_in_channel" }
 * simulator.snapshot().channels[0].messages; // []
 */
export function createSlackSimulator(options: SlackSimulatorOptions = {}): SlackSimulator {
  const clock = options.now ?? Date.now;
  const tokens = options.botTokens ? new Set(options.botTokens) : undefined;
  const revoked = new Set<string>();
  const channels = new Map<string, Channel>();
  const webhooks = new Map<string, Webhook>();
  let sequence = 0;

  const addChannel = (seed: SlackChannelSeed): Channel => {
    const channel: Channel = {
      id: seed.id,
      name: seed.name ?? seed.id.toLowerCase(),
      archived: seed.archived ?? false,
      botMember: seed.botMember ?? true,
      messages: channels.get(seed.id)?.messages ?? [],
    };
    channels.set(seed.id, channel);
    return channel;
  };
  const addWebhook = (seed: SlackWebhookSeed) => {
    webhooks.set(webhookKey(seed.url), { channel: seed.channel, disabled: seed.disabled ?? false });
    if (!channels.has(seed.channel)) addChannel({ id: seed.channel });
  };
  for (const seed of options.channels ?? []) addChannel(seed);
  for (const seed of options.webhooks ?? []) addWebhook(seed);

  const nextTs = () => `${Math.floor(clock() / 1000)}.${String(++sequence).padStart(6, "0")}`;
  const findChannel = (ref: string): Channel | undefined => {
    const name = ref.replace(/^#/, "");
    return channels.get(ref) ?? [...channels.values()].find((channel) => channel.name === name);
  };
  const fail = (c: Context, error: string, extra: Record<string, unknown> = {}) => c.json({ ok: false, error, ...extra });

  const app = createSimulatorApp();

  app.post("/api/chat.postMessage", async (c) => {
    const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1]?.trim();
    if (!token) return fail(c, "not_authed");
    if (revoked.has(token)) return fail(c, "token_revoked");
    if (tokens ? !tokens.has(token) : !token.startsWith("xox")) return fail(c, "invalid_auth");

    const type = c.req.header("content-type") ?? "";
    const args = await readArguments(c, type);
    if (!args) return fail(c, "invalid_json");
    const warnings = type.includes("application/json") && !type.includes("charset") ? ["missing_charset"] : [];

    const ref = typeof args.channel === "string" ? args.channel : "";
    let channel = ref ? findChannel(ref) : undefined;
    if (!channel && ref && !options.strict && /^[CGD][A-Z0-9]+$/.test(ref)) channel = addChannel({ id: ref });
    if (!channel) return fail(c, "channel_not_found");

    const text = typeof args.text === "string" ? args.text : undefined;
    const blocks = args.blocks;
    if (blocks !== undefined && !validBlocks(blocks)) {
      return fail(c, "invalid_blocks", { response_metadata: { messages: ["[ERROR] invalid_blocks: each block needs a type"] } });
    }
    if (!text?.trim() && blocks === undefined) return fail(c, "no_text");
    if (text && text.length > TEXT_LIMIT) return fail(c, "msg_too_long");
    if (channel.archived) return fail(c, "is_archived");
    if (!channel.botMember) return fail(c, "not_in_channel");

    const ts = nextTs();
    channel.messages.push({ ts, ...(text !== undefined && { text }), ...(blocks !== undefined && { blocks: blocks as unknown[] }), via: "bot" });
    return c.json({
      ok: true,
      channel: channel.id,
      ts,
      message: {
        type: "message",
        subtype: "bot_message",
        text: text ?? "",
        bot_id: "B0SIMULATOR",
        ts,
        ...(blocks !== undefined && { blocks }),
      },
      ...(warnings.length > 0 && { warning: warnings.join(","), response_metadata: { warnings } }),
    });
  });

  app.post("/services/*", async (c) => {
    const key = webhookKey(c.req.url);
    let webhook = webhooks.get(key);
    if (!webhook && !options.strict && /^\/services\/[^/]+\/[^/]+\/[^/]+$/.test(new URL(c.req.url).pathname)) {
      if (!channels.has("CINCOMING1")) addChannel({ id: "CINCOMING1", name: "incoming-webhook" });
      webhook = { channel: "CINCOMING1", disabled: false };
      webhooks.set(key, webhook);
    }
    if (!webhook || webhook.disabled) return c.text("no_service", 404);
    const args = await readArguments(c, c.req.header("content-type") ?? "");
    if (!args) return c.text("invalid_payload", 400);
    const text = typeof args.text === "string" ? args.text : undefined;
    if (args.blocks !== undefined && !validBlocks(args.blocks)) return c.text("invalid_payload", 400);
    if (!text?.trim() && args.blocks === undefined) return c.text("no_text", 400);
    const channel = channels.get(webhook.channel);
    if (!channel) return c.text("channel_not_found", 404);
    if (channel.archived) return c.text("channel_is_archived", 410);
    channel.messages.push({
      ts: nextTs(),
      ...(text !== undefined && { text }),
      ...(args.blocks !== undefined && { blocks: args.blocks as unknown[] }),
      via: "webhook",
    });
    return c.text("ok");
  });

  app.notFound((c) => (c.req.path.startsWith("/api/") ? fail(c, "unknown_method") : c.text("no_service", 404)));

  const simulator = createSimulator<SlackSnapshot>({
    type: "slack",
    app,
    snapshot: () => ({ channels: [...channels.values()].map((channel) => structuredClone(channel)) }),
  });
  return Object.assign(simulator, {
    addChannel: (seed: SlackChannelSeed) => void addChannel(seed),
    addWebhook,
    revokeToken: (token: string) => void revoked.add(token),
  });
}

/** Webhooks are told apart by their path; the host is whatever the adapter was pointed at. */
function webhookKey(url: string): string {
  const { pathname } = new URL(url);
  return pathname;
}

async function readArguments(c: Context, type: string): Promise<Record<string, unknown> | undefined> {
  try {
    if (type.includes("application/x-www-form-urlencoded")) {
      const form = new URLSearchParams(await c.req.text());
      const args: Record<string, unknown> = Object.fromEntries(form);
      if (typeof args.blocks === "string") args.blocks = JSON.parse(args.blocks) as unknown;
      if (typeof args.payload === "string") return JSON.parse(args.payload) as Record<string, unknown>;
      return args;
    }
    const value: unknown = await c.req.json();
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function validBlocks(blocks: unknown): boolean {
  return (
    Array.isArray(blocks) &&
    blocks.length <= BLOCK_LIMIT &&
    blocks.every((block) => block && typeof block === "object" && typeof (block as { type?: unknown }).type === "string")
  );
}

import { createSimulator, createSimulatorApp, keepRecent } from "@meshwork/destination-kit";
import type { Context } from "hono";
import type { IncomingMessage, ServerResponse } from "node:http";
import { WebhookVerificationError } from "./errors.js";
import { secretKey } from "./secret.js";
import { verifyWebhook } from "./verify.js";
import type {
  ReceivedWebhook,
  RejectedWebhook,
  WebhookReceiver,
  WebhookReceiverOptions,
  WebhookReceiverSnapshot,
  WebhookSimulator,
  WebhookSimulatorOptions,
} from "./types.js";

const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * A Standard Webhooks receiver for examples, tests and local development. It verifies every
 * request with `verifyWebhook` (401 for a wrong signature, 400 for missing or stale headers),
 * accepts each `webhook-id` once and answers later copies 200 without recording them again, as a
 * real receiver should, and keeps what it received for `snapshot()`.
 *
 * @example
 * import { createServer } from "node:http";
 * const receiver = createWebhookReceiver({
 *   secrets: process.env.WEBHOOK_SECRET!,
 *   onDelivery: (delivery) => console.log(delivery.id, delivery.payload),
 * });
 * createServer(receiver.listener).listen(3000);
 */
export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  return buildReceiver(options);
}

/**
 * The webhook destination's sandbox simulator: a receiver reached through the simulator `fetch`,
 * with fault injection. With `secrets` it verifies signatures (the destination's own sandbox passes
 * the connection's secrets); without, it checks the headers are present and records deliveries
 * with `verified: null`.
 *
 * @example
 * const simulator = createWebhookSimulator({ secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] });
 * await runAction({ destination: webhook(), fetch: simulator.fetch, ... });
 * simulator.snapshot().deliveries; // [{ id, timestamp, body, payload, verified: true, received: 1, ... }]
 */
export function createWebhookSimulator(options: WebhookSimulatorOptions = {}): WebhookSimulator {
  const receiver = buildReceiver(options);
  const simulator = createSimulator({ type: "webhook", app: receiver.app, snapshot: receiver.snapshot, keepRequests: options.keep });
  return Object.assign(simulator, { setStatus: receiver.setStatus });
}

function buildReceiver(options: WebhookSimulatorOptions): WebhookReceiver {
  const { secrets } = options;
  // A misconfigured receiver fails when it is created, not on every request.
  if (secrets !== undefined) for (const secret of typeof secrets === "string" ? [secrets] : secrets) secretKey(secret);
  const deliveries: ReceivedWebhook[] = [];
  const byId = new Map<string, ReceivedWebhook>();
  const rejected: RejectedWebhook[] = [];
  const keep = options.keep ?? 1_000;
  let status = options.status ?? 200;
  const verifyOptions = { toleranceSec: options.toleranceSec, now: options.now };

  const answer = (c: Context, code: number, body: unknown) =>
    NULL_BODY_STATUSES.has(code) ? c.body(null, code as 204) : c.json(body, code as 200);
  const refuse = (c: Context, id: string | null, error: WebhookVerificationError) => {
    rejected.push({ id, code: error.code, message: error.message });
    keepRecent(rejected, keep);
    return answer(c, error.code === "no_matching_signature" ? 401 : 400, { error: error.code, message: error.message });
  };

  const app = createSimulatorApp();
  app.on(["POST", "PUT", "PATCH"], "*", async (c) => {
    if (status < 200 || status >= 300) {
      return answer(c, status, { error: status === 410 ? "gone" : "unavailable", message: `this receiver answers ${status}` });
    }
    const body = await c.req.text();
    const headers = c.req.raw.headers;
    const id = headers.get("webhook-id");
    let key: string;
    let timestamp: number;
    let verified: boolean | null = null;
    if (secrets !== undefined) {
      try {
        ({ id: key, timestamp } = verifyWebhook(secrets, body, headers, verifyOptions));
        verified = true;
      } catch (error) {
        if (WebhookVerificationError.isInstance(error)) return refuse(c, id, error);
        throw error;
      }
    } else {
      const stamp = headers.get("webhook-timestamp");
      if (!id || !stamp || !headers.get("webhook-signature")) {
        return refuse(c, id, new WebhookVerificationError("missing_headers", "missing webhook-id, webhook-timestamp or webhook-signature"));
      }
      if (!/^\d{1,12}$/.test(stamp)) {
        return refuse(c, id, new WebhookVerificationError("invalid_timestamp", "webhook-timestamp must be unix seconds"));
      }
      key = id;
      timestamp = Number(stamp);
    }

    const seen = byId.get(key);
    if (seen) {
      seen.received += 1;
      return answer(c, status, { received: true, duplicate: true });
    }
    const url = new URL(c.req.url);
    const delivery: ReceivedWebhook = {
      id: key,
      timestamp,
      method: c.req.method,
      path: `${url.pathname}${url.search}`,
      body,
      payload: parseJson(body),
      verified,
      received: 1,
    };
    try {
      await options.onDelivery?.(structuredClone(delivery));
    } catch (error) {
      // Not recorded, so the sender's retry (same webhook-id) is processed again.
      return answer(c, 500, { error: "handler_failed", message: error instanceof Error ? error.message : String(error) });
    }
    deliveries.push(delivery);
    byId.set(key, delivery);
    keepRecent(deliveries, keep, (old) => byId.delete(old.id));
    return answer(c, status, { received: true });
  });
  app.all("*", (c) => answer(c, 405, { error: "method_not_allowed", message: `${c.req.method} is not a webhook method` }));

  const fetch = async (request: Request) => app.fetch(request);
  return {
    app,
    fetch,
    listener: (request, response) => void serveNode(fetch, request, response),
    snapshot: (): WebhookReceiverSnapshot => structuredClone({ deliveries, rejected }),
    setStatus: (next) => {
      status = next;
    },
  };
}

async function serveNode(
  handle: (request: Request) => Promise<Response>,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
): Promise<void> {
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of incoming) chunks.push(chunk as Buffer);
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, item);
    }
    const method = incoming.method ?? "GET";
    const request = new Request(`http://${incoming.headers.host ?? "localhost"}${incoming.url ?? "/"}`, {
      method,
      headers,
      ...(method !== "GET" && method !== "HEAD" && { body: Buffer.concat(chunks) }),
    });
    const response = await handle(request);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  } catch {
    if (!outgoing.headersSent) outgoing.writeHead(500);
    outgoing.end();
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

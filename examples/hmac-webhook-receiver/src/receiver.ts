// A webhook receiver, the way your customer (or your own service) would write one: read the raw
// body, verify the Standard Webhooks signature with `verifyWebhook`, process each `webhook-id`
// once, answer 2xx fast. Plain `node:http`; any framework works the same way.
import { createServer, type Server } from "node:http";
import { verifyWebhook, WebhookVerificationError } from "@meshwork/webhook";

/** The body of a Meshwork webhook in the default `payloadMode: "event"`. */
export interface MeshworkWebhook {
  id: string;
  type: string;
  event: string;
  workspace: string;
  resource: string | null;
  resource_id: string | null;
  payload: Record<string, unknown>;
  created_at: string;
}

export interface ReceiverOptions {
  /** One secret, or several while rotating (old and new both verify). */
  secrets: string | string[];
  onEvent: (event: MeshworkWebhook, webhookId: string) => void | Promise<void>;
}

export function createReceiver({ secrets, onEvent }: ReceiverOptions): Server {
  const processed = new Set<string>(); // use your database in production: ids are unique per delivery

  return createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8"); // the raw body: verify before parsing

    try {
      const { id, payload } = verifyWebhook<MeshworkWebhook>(secrets, body, req.headers);
      if (!processed.has(id)) {
        await onEvent(payload, id);
        processed.add(id);
      }
      res.writeHead(204).end();
    } catch (error) {
      if (!WebhookVerificationError.isInstance(error)) {
        res.writeHead(500).end(); // our own failure: Meshwork retries with the same webhook-id
        return;
      }
      // A bad signature or a stale timestamp: refuse, and do not say more than the code.
      res.writeHead(error.code === "no_matching_signature" ? 401 : 400, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: error.code }));
    }
  });
}

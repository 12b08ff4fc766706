import { createHmac } from "node:crypto";
import { WebhookError } from "./errors.js";
import { secretKey } from "./secret.js";
import type { WebhookMessage } from "./types.js";

/** HMAC-SHA256 over `"{id}.{timestamp}.{body}"`, the exact bytes, keyed with the decoded secret. */
export function computeSignature(key: Buffer, id: string, timestamp: number | string, body: string | Uint8Array): Buffer {
  return createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
}

/** Unix seconds of a timestamp given as seconds or as a Date. */
export function unixSeconds(timestamp: number | Date): number {
  return timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : Math.floor(timestamp);
}

/**
 * Signs a message the Standard Webhooks way and returns the `webhook-signature` header value:
 * one `v1,<base64>` entry per secret, separated by spaces, so receivers holding either the old
 * or the new secret accept it during a rotation.
 *
 * @example
 * const signature = signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", {
 *   id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330, body: '{"test": 2432232314}',
 * }); // "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
 */
export function signWebhook(secrets: string | readonly string[], message: WebhookMessage): string {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (list.length === 0) throw new WebhookError("invalid_secret", "signWebhook needs at least one secret");
  const timestamp = unixSeconds(message.timestamp);
  return list
    .map((secret) => `v1,${computeSignature(secretKey(secret), message.id, timestamp, message.body).toString("base64")}`)
    .join(" ");
}

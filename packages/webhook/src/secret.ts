import { randomBytes } from "node:crypto";
import { WebhookError } from "./errors.js";

const PREFIX = "whsec_";
const MIN_BYTES = 24;
const MAX_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why a signing secret is unusable, or undefined when it is fine. Never echoes the secret. */
export function secretProblem(secret: unknown): string | undefined {
  if (typeof secret !== "string") return "a secret must be a string";
  if (!secret.startsWith(PREFIX)) return `a secret must start with "${PREFIX}"`;
  const encoded = secret.slice(PREFIX.length);
  if (/[-_]/.test(encoded)) return "a secret must be standard base64 (+ and /), not base64url";
  const unpadded = encoded.replace(/=+$/, "");
  if (!BASE64.test(encoded) || unpadded.length % 4 === 1 || (encoded.includes("=") && encoded.length % 4 !== 0)) {
    return `a secret must be "${PREFIX}" followed by base64`;
  }
  const bytes = Buffer.from(encoded, "base64").length;
  if (bytes < MIN_BYTES || bytes > MAX_BYTES) {
    return `a secret must decode to ${MIN_BYTES}–${MAX_BYTES} bytes (this one is ${bytes})`;
  }
  return undefined;
}

/**
 * The HMAC key of a `whsec_` secret; throws `WebhookError` `invalid_secret` when it is malformed.
 * Valid secrets' keys are kept (a connection signs every delivery with the same few), so a
 * signature does not check and decode its secret again. Callers only read the key.
 */
export function secretKey(secret: string, ErrorClass: typeof WebhookError = WebhookError): Buffer {
  const known = keys.get(secret);
  if (known) return known;
  const problem = secretProblem(secret);
  if (problem) throw new ErrorClass("invalid_secret", `invalid webhook secret: ${problem}`);
  const key = Buffer.from(secret.slice(PREFIX.length), "base64");
  if (keys.size >= 256) keys.delete(keys.keys().next().value!);
  keys.set(secret, key);
  return key;
}

const keys = new Map<string, Buffer>();

/**
 * Generates a signing secret: `whsec_` + base64 of `bytes` random bytes (default 32, allowed 24–64).
 *
 * @example
 * const secret = createWebhookSecret(); // "whsec_3q2+7w…"
 */
export function createWebhookSecret(bytes = 32): string {
  if (!Number.isInteger(bytes) || bytes < MIN_BYTES || bytes > MAX_BYTES) {
    throw new WebhookError("invalid_secret", `a secret must be ${MIN_BYTES}–${MAX_BYTES} bytes, not ${bytes}`);
  }
  return PREFIX + randomBytes(bytes).toString("base64");
}

import { timingSafeEqual } from "node:crypto";
import { WebhookVerificationError } from "./errors.js";
import { secretKey } from "./secret.js";
import { computeSignature } from "./sign.js";
import type { HeadersInput, VerifiedWebhook, VerifyWebhookOptions } from "./types.js";

const DEFAULT_TOLERANCE_SEC = 300;

/**
 * Verifies a Standard Webhooks request: the three `webhook-*` headers are present, the timestamp
 * is within `toleranceSec` of the clock (default 5 minutes, both directions), and at least one
 * `v1` signature matches one of `secrets`, compared in constant time. Returns the id to dedupe on
 * and the JSON payload; throws `WebhookVerificationError` with a `code` otherwise.
 *
 * Pass the body exactly as received (the raw string or bytes, before any JSON parsing).
 *
 * @example
 * const body = await request.text();
 * try {
 *   const { id, payload } = verifyWebhook(process.env.WEBHOOK_SECRET!, body, request.headers);
 *   if (!(await seen(id))) await handle(payload);
 *   return new Response(null, { status: 204 });
 * } catch (error) {
 *   if (WebhookVerificationError.isInstance(error)) return new Response(error.code, { status: 400 });
 *   throw error;
 * }
 */
export function verifyWebhook<TPayload = unknown>(
  secrets: string | readonly string[],
  body: string | Uint8Array,
  headers: HeadersInput,
  options: VerifyWebhookOptions = {},
): VerifiedWebhook<TPayload> {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (list.length === 0) throw new WebhookVerificationError("invalid_secret", "verifyWebhook needs at least one secret");
  const keys = list.map((secret) => secretKey(secret, WebhookVerificationError));

  const id = header(headers, "webhook-id");
  const timestampText = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature", " ");
  const missing = [
    !id && "webhook-id",
    !timestampText && "webhook-timestamp",
    !signatures && "webhook-signature",
  ].filter(Boolean);
  if (!id || !timestampText || !signatures) {
    throw new WebhookVerificationError("missing_headers", `missing header${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`);
  }

  if (!/^\d{1,12}$/.test(timestampText.trim())) {
    throw new WebhookVerificationError("invalid_timestamp", "webhook-timestamp must be unix seconds");
  }
  const timestamp = Number(timestampText.trim());
  const tolerance = options.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const nowSec = Math.floor((options.now ?? Date.now)() / 1000);
  if (timestamp < nowSec - tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_old",
      `webhook-timestamp is ${nowSec - timestamp} s old, more than the ${tolerance} s tolerance`,
    );
  }
  if (timestamp > nowSec + tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `webhook-timestamp is ${timestamp - nowSec} s in the future, more than the ${tolerance} s tolerance`,
    );
  }

  const expected = keys.map((key) => computeSignature(key, id, timestamp, body));
  const provided = signatures
    .split(" ")
    .map((entry) => entry.split(","))
    .filter(([version, value]) => version === "v1" && value)
    .map(([, value]) => Buffer.from(value!, "base64"));
  const matched = provided.some((candidate) =>
    expected.some((signature) => candidate.length === signature.length && timingSafeEqual(candidate, signature)),
  );
  if (!matched) {
    throw new WebhookVerificationError(
      "no_matching_signature",
      provided.length === 0
        ? "webhook-signature holds no v1 signature"
        : "no v1 signature matches any of the secrets (wrong secret, or the body was changed)",
    );
  }

  const text = typeof body === "string" ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  try {
    return { id, timestamp, payload: JSON.parse(text) as TPayload };
  } catch (error) {
    throw new WebhookVerificationError("invalid_payload", "the signature matches but the body is not JSON", { cause: error });
  }
}

/** A header from `Headers` or a plain object, whatever the case of its name; repeated values joined. */
export function header(headers: HeadersInput, name: string, separator = ", "): string | undefined {
  if (typeof (headers as Headers).get === "function" && typeof (headers as Headers).entries === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    values.push(...(Array.isArray(value) ? value : [value]));
  }
  return values.length > 0 ? values.join(separator) : undefined;
}

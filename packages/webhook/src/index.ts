export { webhook, WEBHOOK_CONCURRENCY, WEBHOOK_RATE_LIMIT, WEBHOOK_TIMEOUT_MS } from "./destination.js";
export { webhookCredentials, RESERVED_HEADERS } from "./credentials.js";
export { signWebhook } from "./sign.js";
export { verifyWebhook } from "./verify.js";
export { createWebhookSecret } from "./secret.js";
export { createWebhookReceiver, createWebhookSimulator } from "./receiver.js";
export { classifyAddress, type AddressClass } from "./ssrf.js";
export { AddressRefusedError, WebhookError, WebhookVerificationError, type WebhookErrorCode } from "./errors.js";
export type * from "./types.js";

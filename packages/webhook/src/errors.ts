import type { WebhookVerificationCode } from "./types.js";

const marker = Symbol.for("meshwork.webhook-error");
const verificationMarker = Symbol.for("meshwork.webhook-verification-error");

/** Every `WebhookError` code: the verification codes, plus `address_refused` from the SSRF guard. */
export type WebhookErrorCode = WebhookVerificationCode | "address_refused";

/**
 * Base of the errors `@meshwork/webhook` raises outside a delivery (signing, verifying, the SSRF
 * guard). Inside a delivery they become destination-kit errors. `isInstance` survives duplicate installs.
 */
export class WebhookError extends Error {
  readonly code: WebhookErrorCode;
  readonly retryable: boolean = false;
  readonly [marker] = true;

  constructor(code: WebhookErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }

  static isInstance(error: unknown): error is WebhookError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

/**
 * `verifyWebhook` refused the request. Answer 400 (or 401 for `no_matching_signature`) and do
 * not process the body. `code` says why.
 */
export class WebhookVerificationError extends WebhookError {
  declare readonly code: WebhookVerificationCode;
  readonly [verificationMarker] = true;

  constructor(code: WebhookVerificationCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
  }

  static override isInstance(error: unknown): error is WebhookVerificationError {
    return WebhookError.isInstance(error) && (error as unknown as Record<symbol, unknown>)[verificationMarker] === true;
  }
}

/** The SSRF guard refused an address; `address` is the one it refused. */
export class AddressRefusedError extends WebhookError {
  declare readonly code: "address_refused";
  readonly host: string;
  readonly address: string;

  constructor(message: string, details: { host: string; address: string }) {
    super("address_refused", message);
    this.host = details.host;
    this.address = details.address;
  }

  static override isInstance(error: unknown): error is AddressRefusedError {
    return WebhookError.isInstance(error) && error.code === "address_refused";
  }
}

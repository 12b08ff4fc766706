import type { Outcome } from "./types.js";

const marker = Symbol.for("meshwork.destination-error");

interface DestinationErrorOptions {
  cause?: unknown;
  /** HTTP status of the response that caused it, when there was one. */
  status?: number;
}

/**
 * Base of every error a destination raises. `code` is the attempt outcome it stands for;
 * `retryable` tells the engine whether another attempt can succeed.
 * Check with `DestinationError.isInstance(e)`, which survives duplicate installs.
 */
export class DestinationError extends Error {
  readonly code: Outcome;
  readonly retryable: boolean;
  readonly status?: number;
  readonly [marker] = true;

  constructor(code: Outcome, retryable: boolean, message: string, options: DestinationErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    if (options.status !== undefined) this.status = options.status;
  }

  static isInstance(error: unknown): error is DestinationError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}

/** A failure another attempt may fix: 5xx, timeouts, network errors. */
export class RetryableError extends DestinationError {
  constructor(
    message: string,
    options: DestinationErrorOptions & { code?: "rejected_server_error" | "timeout" | "network_error" } = {},
  ) {
    super(options.code ?? "rejected_server_error", true, message, options);
  }
}

/** The vendor asked us to slow down; retry after `retryAfterMs` when known. */
export class RateLimitedError extends DestinationError {
  readonly retryAfterMs?: number;
  constructor(message: string, options: DestinationErrorOptions & { retryAfterMs?: number } = {}) {
    super("rate_limited", true, message, options);
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

/** The credentials were refused; retrying with the same ones cannot succeed. */
export class AuthError extends DestinationError {
  constructor(message: string, options: DestinationErrorOptions = {}) {
    super("auth_failed", false, message, options);
  }
}

/**
 * The vendor refused the request as it is (4xx, bad configuration). Set `disableConnection`
 * when the vendor said to stop sending altogether (a webhook receiver's 410).
 */
export class PermanentError extends DestinationError {
  readonly disableConnection?: boolean;
  constructor(message: string, options: DestinationErrorOptions & { disableConnection?: boolean } = {}) {
    super("rejected_client_error", false, message, options);
    if (options.disableConnection) this.disableConnection = true;
  }
}

/** The event could not be turned into a request: a missing field, a value of the wrong type. */
export class MappingError extends DestinationError {
  constructor(message: string, options: DestinationErrorOptions = {}) {
    super("mapping_error", false, message, options);
  }
}

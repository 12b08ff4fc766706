const MARKER = Symbol.for("meshwork.error");

const isMarked = (value: unknown): value is MeshworkError =>
  typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;

/**
 * Base of every error `@meshwork/events` raises, with a string `code` and a `retryable` flag.
 * Check with `MeshworkError.isInstance(e)`: it survives duplicate installs, unlike `instanceof`.
 */
export class MeshworkError extends Error {
  override name = "MeshworkError";
  readonly code: string;
  readonly retryable: boolean;

  constructor(message: string, options: { code: string; retryable?: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, MARKER, { value: true });
  }

  static isInstance(value: unknown): value is MeshworkError {
    return isMarked(value);
  }
}

/**
 * A malformed event or option, thrown synchronously; `field` names the offending path
 * (`event`, `payload.items[2]`, `headers.Content-Type`…). Nothing malformed is ever queued.
 */
export class MeshworkValidationError extends MeshworkError {
  override name = "MeshworkValidationError";
  readonly field: string;

  constructor(field: string, code: string, message: string, cause?: unknown) {
    super(`${field}: ${message}`, { code, cause });
    this.field = field;
  }

  static override isInstance(value: unknown): value is MeshworkValidationError {
    return isMarked(value) && value.name === "MeshworkValidationError";
  }
}

/**
 * An event (or request) that was not accepted: refused by the endpoint, out of retries, dropped
 * from a full queue, or still pending when the client closed. `status` is the HTTP status when
 * there was one; `data` is `{ status, statusText, data }` with the parsed answer body.
 */
export class MeshworkDeliveryError extends MeshworkError {
  override name = "MeshworkDeliveryError";
  readonly status?: number;
  readonly data?: { status: number; statusText: string; data: unknown };

  constructor(
    message: string,
    options: {
      code: string;
      retryable?: boolean;
      cause?: unknown;
      status?: number;
      data?: { status: number; statusText: string; data: unknown };
    },
  ) {
    super(message, options);
    if (options.status !== undefined) this.status = options.status;
    if (options.data !== undefined) this.data = options.data;
  }

  static override isInstance(value: unknown): value is MeshworkDeliveryError {
    return isMarked(value) && value.name === "MeshworkDeliveryError";
  }
}

const MARKER = Symbol.for("meshwork.server-error");

/**
 * Base of every error `@meshwork/server` raises, with a string `code` and a `retryable` flag.
 * Check with `MeshworkServerError.isInstance(e)`, which survives duplicate installs.
 */
export class MeshworkServerError extends Error {
  override name = "MeshworkServerError";
  readonly code: string;
  readonly retryable: boolean;
  /** The HTTP status, for errors that came from (or become) a response. */
  readonly status: number | undefined;

  constructor(code: string, message: string, options: { retryable?: boolean; status?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    Object.defineProperty(this, MARKER, { value: true });
  }

  static isInstance(value: unknown): value is MeshworkServerError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

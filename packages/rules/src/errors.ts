const MARKER = Symbol.for("meshwork.rules-error");

/** One thing wrong with a configuration, at a path such as `rules[2].metadata.action`. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/**
 * Base of every error `@meshwork/rules` raises, with a string `code` and a `retryable` flag
 * (`retryable: true` means the same call may succeed later, e.g. a store that was busy).
 * Check with `MeshworkRulesError.isInstance(e)`, which survives duplicate installs.
 */
export class MeshworkRulesError extends Error {
  override name = "MeshworkRulesError";
  readonly code: string;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    Object.defineProperty(this, MARKER, { value: true });
  }

  static isInstance(value: unknown): value is MeshworkRulesError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }
}

/**
 * A configuration that cannot run. `problems` lists every problem found, each with its path and
 * a suggested fix; the message prints them one a line.
 */
export class MeshworkConfigError extends MeshworkRulesError {
  override name = "MeshworkConfigError";
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], options: { cause?: unknown } = {}) {
    const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
    const heading = problems.length === 1 ? "invalid Meshwork configuration:" : `invalid Meshwork configuration (${problems.length} problems):`;
    super("invalid_config", [heading, ...lines].join("\n"), options);
    this.problems = problems;
  }

  static override isInstance(value: unknown): value is MeshworkConfigError {
    return MeshworkRulesError.isInstance(value) && value.code === "invalid_config";
  }
}

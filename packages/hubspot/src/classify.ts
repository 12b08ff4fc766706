import {
  AuthError,
  PermanentError,
  RateLimitedError,
  RetryableError,
  parseRetryAfter,
  type RateLimitFeedback,
  type ResponseClassifier,
} from "@meshwork/destination-kit";
import { TokenExpiredError } from "./auth.js";

const DAY_MS = 86_400_000;
/** Without `Retry-After`, a TEN_SECONDLY_ROLLING 429 waits the window (clamped to 1–10 s). */
const ROLLING_MIN_MS = 1_000;
const ROLLING_MAX_MS = 10_000;
/** HubSpot asks for at least 2 s after a 423 Locked. */
const LOCKED_WAIT_MS = 2_000;

interface HubspotErrorBody {
  status?: string;
  message?: string;
  category?: string;
  policyName?: string;
  error?: string;
  correlationId?: string;
  errors?: Array<{ message?: string; context?: Record<string, unknown> }>;
}

/** Checks that `timeZone` is an IANA zone this runtime knows; throws a `TypeError` naming the option if not. */
export function assertTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone });
  } catch {
    throw new TypeError(`hubspot({ portalTimeZone }): "${timeZone}" is not an IANA time zone such as "America/New_York"`);
  }
}

/** Milliseconds from `now` until the next midnight in `timeZone` (HubSpot's daily reset). */
export function msUntilMidnight(now: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    hour: "numeric",
    minute: "numeric",
    second: "numeric",
  }).formatToParts(new Date(now));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const elapsed = ((part("hour") * 60 + part("minute")) * 60 + part("second")) * 1000 + (now % 1000);
  return DAY_MS - elapsed;
}

function header(headers: Headers, name: string): number | undefined {
  const value = headers.get(name);
  if (value === null || value.trim() === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads `X-HubSpot-RateLimit-*` headers: the rolling window, or the daily budget once it is spent. */
export function createRateLimitHeaderReader(timeZone: string): (headers: Headers) => RateLimitFeedback | undefined {
  return (headers) => {
    const now = Date.now();
    const dailyRemaining = header(headers, "x-hubspot-ratelimit-daily-remaining");
    const daily = header(headers, "x-hubspot-ratelimit-daily");
    if (dailyRemaining !== undefined && dailyRemaining <= 0) {
      return { remaining: 0, ...(daily !== undefined && { limit: daily }), resetAt: now + msUntilMidnight(now, timeZone) };
    }
    const remaining = header(headers, "x-hubspot-ratelimit-remaining");
    if (remaining !== undefined) {
      const max = header(headers, "x-hubspot-ratelimit-max");
      const interval = header(headers, "x-hubspot-ratelimit-interval-milliseconds");
      // A rolling window: the whole budget is back at most one interval from now. (Read on every
      // answer: one object shape, rather than conditional spreads.)
      return { remaining, limit: max, resetAt: interval === undefined ? undefined : now + interval };
    }
    if (dailyRemaining !== undefined) {
      return { remaining: dailyRemaining, ...(daily !== undefined && { limit: daily }), resetAt: now + msUntilMidnight(now, timeZone) };
    }
    return undefined;
  };
}

/**
 * HubSpot's own error rules, applied before the kit's status table: which 401 can be fixed by an
 * OAuth refresh, how long each 429 policy waits, and messages that tell the user what to change.
 */
export function createHubspotClassifier(timeZone: string): ResponseClassifier {
  return ({ status, headers, data }) => {
    if (status < 400) return undefined;
    const body: HubspotErrorBody = data && typeof data === "object" ? (data as HubspotErrorBody) : {};
    const message = typeof body.message === "string" ? body.message : "";
    const ref = body.correlationId ? ` (correlationId ${body.correlationId})` : "";
    if (status === 423) {
      const retryAfterMs = parseRetryAfter(headers.get("retry-after"), Date.now()) ?? LOCKED_WAIT_MS;
      return new RateLimitedError(`HubSpot answered 423 Locked (too many updates to the record at once): ${message}${ref}`.trim(), {
        status,
        retryAfterMs,
      });
    }
    if (status === 477) {
      return new RetryableError(`HubSpot answered 477: the portal is being migrated between data centres; will retry${ref}`, { status });
    }
    if (status === 401 && body.category === "EXPIRED_AUTHENTICATION") {
      return new TokenExpiredError(`HubSpot answered 401 EXPIRED_AUTHENTICATION: ${message || "the access token expired"}${ref}`, {
        status,
      });
    }
    if (status === 401 && body.category === "INVALID_AUTHENTICATION") {
      return new AuthError(`HubSpot answered 401 INVALID_AUTHENTICATION: ${message || "the access token is not valid"}${ref}`, {
        status,
      });
    }
    if (status === 429 && body.policyName) {
      const now = Date.now();
      const retryAfter = parseRetryAfter(headers.get("retry-after"), now);
      if (body.policyName === "DAILY") {
        const retryAfterMs = retryAfter ?? msUntilMidnight(now, timeZone);
        return new RateLimitedError(
          `HubSpot's daily API limit is spent (429 DAILY); waiting for the reset at midnight ${timeZone}${ref}`,
          { status, retryAfterMs },
        );
      }
      const interval = header(headers, "x-hubspot-ratelimit-interval-milliseconds") ?? ROLLING_MAX_MS;
      const retryAfterMs = retryAfter ?? Math.min(Math.max(interval, ROLLING_MIN_MS), ROLLING_MAX_MS);
      return new RateLimitedError(`HubSpot rate limit reached (429 ${body.policyName}): ${message}${ref}`, {
        status,
        retryAfterMs,
      });
    }
    if (status === 403 && body.category === "MISSING_SCOPES") {
      const scopes = requiredScopes(body);
      const need = scopes.length ? `it needs ${scopes.join(", ")}` : "see HubSpot's message";
      return new PermanentError(
        `HubSpot refused the call because the app is missing scopes (403 MISSING_SCOPES): ${need}. Grant the scope to the private app, or reinstall the OAuth app with it. ${message}${ref}`.trim(),
        { status },
      );
    }
    if (status === 400 && (body.category === "VALIDATION_ERROR" || body.error === "INVALID_OPTION")) {
      return new PermanentError(`${describeValidation(body)}${ref}`, { status });
    }
    return undefined;
  };
}

function requiredScopes(body: HubspotErrorBody): string[] {
  const scopes = new Set<string>();
  for (const entry of body.errors ?? []) {
    for (const key of ["requiredGranularScopes", "requiredScopes", "requiredScope"]) {
      const value = entry.context?.[key];
      for (const scope of Array.isArray(value) ? value : []) if (typeof scope === "string") scopes.add(scope);
    }
  }
  return [...scopes];
}

interface PropertyError {
  message?: string;
  error?: string;
  name?: string;
}

/** Turns HubSpot's `Property values were not valid: [...]` into one line naming each bad property. */
function describeValidation(body: HubspotErrorBody): string {
  const message = body.message ?? "";
  const start = message.indexOf("[");
  let entries: PropertyError[] = [];
  if (start !== -1) {
    try {
      const parsed: unknown = JSON.parse(message.slice(start));
      if (Array.isArray(parsed)) entries = parsed as PropertyError[];
    } catch {
      entries = [];
    }
  }
  const lines = entries.map((entry) => {
    const name = entry.name ? `property "${entry.name}"` : "a property";
    if (entry.error === "INVALID_OPTION") {
      return `${name} was given an invalid option (${entry.message ?? "not one of its allowed options"}); use one of the property's option values or add the option in HubSpot`;
    }
    if (entry.error === "PROPERTY_DOESNT_EXIST") return `${name} does not exist in this HubSpot portal; create it or fix the rule`;
    return `${name} was rejected: ${entry.message ?? entry.error ?? "invalid value"}`;
  });
  if (lines.length) return `HubSpot rejected the update (400 VALIDATION_ERROR): ${lines.join("; ")}`;
  if (body.error === "INVALID_OPTION" || /INVALID_OPTION/.test(message)) {
    return `HubSpot rejected the update: the value is not a valid option of the property (400 INVALID_OPTION): ${message}`;
  }
  return `HubSpot rejected the request (400 ${body.category ?? "VALIDATION_ERROR"}): ${message}`;
}

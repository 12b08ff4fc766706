/** Intercom keeps at most this many metadata keys per data event and ignores the rest. */
export const INTERCOM_METADATA_LIMIT = 10;

/** What `flattenEventMetadata` made of a nested object. */
export interface FlattenedMetadata {
  /** Flat, at most `limit` keys, in the order they appeared. */
  metadata: Record<string, string | number | boolean | Record<string, unknown>>;
  /** Keys left out because the limit was reached. */
  cut: string[];
  /** Keys left out because their value was null or undefined. */
  dropped: string[];
}

/**
 * Flattens event metadata the way Intercom accepts it: nested objects become keys joined with `_`
 * (`{ plan: { name } }` → `plan_name`), arrays become JSON text, null and undefined are left out,
 * Intercom's rich links (`{ url, value }`) and monetary amounts (`{ amount, currency }`) pass
 * through as they are, and only the first `limit` keys are kept.
 */
export function flattenEventMetadata(input: Record<string, unknown>, limit = INTERCOM_METADATA_LIMIT): FlattenedMetadata {
  const all: Array<[string, string | number | boolean | Record<string, unknown>]> = [];
  const dropped: string[] = [];

  const walk = (value: unknown, key: string): void => {
    if (value === null || value === undefined) dropped.push(key);
    else if (typeof value === "string" || typeof value === "boolean") all.push([key, value]);
    else if (typeof value === "number") {
      if (Number.isFinite(value)) all.push([key, value]);
      else dropped.push(key);
    } else if (Array.isArray(value)) all.push([key, JSON.stringify(value)]);
    else if (typeof value === "object") {
      if (isIntercomObject(value as Record<string, unknown>)) all.push([key, value as Record<string, unknown>]);
      else for (const [child, item] of Object.entries(value)) walk(item, key ? `${key}_${child}` : child);
    } else all.push([key, String(value)]);
  };
  for (const [key, value] of Object.entries(input)) walk(value, key);

  return {
    metadata: Object.fromEntries(all.slice(0, limit)),
    cut: all.slice(limit).map(([key]) => key),
    dropped,
  };
}

function isIntercomObject(value: Record<string, unknown>): boolean {
  const keys = Object.keys(value).sort().join(",");
  return (
    (keys === "url,value" && typeof value.url === "string") ||
    (keys === "amount,currency" && typeof value.amount === "number" && typeof value.currency === "string")
  );
}

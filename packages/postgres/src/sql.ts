import { MeshworkRulesError } from "@meshwork/rules";

/** SQLSTATE classes worth trying again: connection trouble, serialization/deadlock, resources, shutdown. */
const RETRYABLE = /^(08|40|53|57P0[1-3]|55P03)/;

/** Wraps a driver error into the engine's error family (`store_error`, retryable when it may pass). */
export function storeError(what: string, error: unknown): MeshworkRulesError {
  if (MeshworkRulesError.isInstance(error)) return error;
  const code = String((error as { code?: unknown })?.code ?? "");
  const retryable = RETRYABLE.test(code) || code === "ECONNREFUSED" || code === "ECONNRESET" || code === "ETIMEDOUT" || /terminat|timeout|Connection/i.test(String((error as Error)?.message));
  const message = (error as Error)?.message ?? String(error);
  return new MeshworkRulesError("store_error", `Postgres ${what} failed: ${message}${code && !message.includes(code) ? ` (${code})` : ""}`, { retryable, cause: error });
}

/** int8 columns arrive as strings; times here are epoch ms, well inside 2^53. */
export const num = (value: unknown): number => (typeof value === "number" ? value : Number(value));
export const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : num(value));

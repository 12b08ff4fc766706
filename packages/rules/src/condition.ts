import { getPath } from "@meshwork/destination-kit";
import type { Condition, ConditionOp } from "./types.js";

/** A compiled `when` condition. */
export type Predicate = (payload: Record<string, unknown>) => boolean;

/** The operators a `when` comparison accepts. */
export const CONDITION_OPS: readonly ConditionOp[] = [
  "eq",
  "neq",
  "in",
  "nin",
  "exists",
  "gt",
  "gte",
  "lt",
  "lte",
  "contains",
  "starts_with",
];

/**
 * Compiles a condition into a predicate on the payload. Semantics:
 * `eq`/`neq` compare JSON values deeply; `in`/`nin` take an array of candidates; `exists`
 * is true when the path holds a value other than null (`value: false` inverts it);
 * `gt`/`gte`/`lt`/`lte` compare two numbers or two strings (ISO dates compare correctly) and
 * are false for mixed types; `contains` is substring for strings and membership for arrays;
 * `starts_with` is a string prefix. A missing path is `undefined`: only `neq`, `nin` and
 * `exists: false` can be true for it.
 */
export function compileCondition(condition: Condition): Predicate {
  if ("all" in condition) {
    const parts = condition.all.map(compileCondition);
    return (payload) => parts.every((part) => part(payload));
  }
  if ("any" in condition) {
    const parts = condition.any.map(compileCondition);
    return (payload) => parts.some((part) => part(payload));
  }
  if ("not" in condition) {
    const inner = compileCondition(condition.not);
    return (payload) => !inner(payload);
  }
  const { path, op, value } = condition;
  const read = path.includes(".") ? (payload: unknown) => getPath(payload, path) : (payload: Record<string, unknown>) => payload[path];
  switch (op) {
    case "eq":
      return (payload) => deepEqual(read(payload), value);
    case "neq":
      return (payload) => !deepEqual(read(payload), value);
    case "in": {
      const options = value as unknown[];
      return (payload) => {
        const actual = read(payload);
        return options.some((option) => deepEqual(actual, option));
      };
    }
    case "nin": {
      const options = value as unknown[];
      return (payload) => {
        const actual = read(payload);
        return !options.some((option) => deepEqual(actual, option));
      };
    }
    case "exists": {
      const expected = value !== false;
      return (payload) => {
        const actual = read(payload);
        return (actual !== undefined && actual !== null) === expected;
      };
    }
    case "gt":
      return (payload) => compare(read(payload), value, (a, b) => a > b);
    case "gte":
      return (payload) => compare(read(payload), value, (a, b) => a >= b);
    case "lt":
      return (payload) => compare(read(payload), value, (a, b) => a < b);
    case "lte":
      return (payload) => compare(read(payload), value, (a, b) => a <= b);
    case "contains":
      return (payload) => {
        const actual = read(payload);
        if (typeof actual === "string") return typeof value === "string" && actual.includes(value);
        if (Array.isArray(actual)) return actual.some((item) => deepEqual(item, value));
        return false;
      };
    case "starts_with":
      return (payload) => {
        const actual = read(payload);
        return typeof actual === "string" && typeof value === "string" && actual.startsWith(value);
      };
  }
}

function compare(actual: unknown, expected: unknown, test: (a: number | string, b: number | string) => boolean): boolean {
  if (typeof actual === "number" && typeof expected === "number") return test(actual, expected);
  if (typeof actual === "string" && typeof expected === "string") return test(actual, expected);
  return false;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i]));
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((key) => deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

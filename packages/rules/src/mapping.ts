import { getPath } from "@meshwork/destination-kit";
import type { Mapping, MappingErrorPolicy, MappingTransform } from "./types.js";

/** What applying a mapping to one payload produced. */
export interface MappingOutcome {
  mapped: Record<string, unknown>;
  /** One line per field dropped under `warn_action`. */
  warnings: string[];
  /** Set when a `fail_action` field could not be produced: the attempt fails with `mapping_error`. */
  error?: string;
}

type Step = (value: unknown) => unknown;

interface CompiledField {
  dest: string[];
  label: string;
  read: (payload: Record<string, unknown>) => unknown;
  describeSource: string;
  steps: Step[];
  policy: MappingErrorPolicy;
}

/** Thrown by a transform step; caught per field and handled by its `on_error` policy. */
class FieldError extends Error {}

/** The transforms a mapping accepts. */
export const TRANSFORM_TYPES = [
  "to_string",
  "to_number",
  "to_boolean",
  "to_date",
  "to_datetime",
  "default",
  "trim",
  "lower",
  "upper",
  "substring",
] as const;

/**
 * Compiles a `schema_version: 1` mapping into a function of the payload. Each field reads its
 * source, runs its transforms in order, and lands at `dest`. A field that ends with no value
 * (a missing path, a failed conversion) is handled by its `on_error`: `skip_field` drops it,
 * `warn_action` (the default) drops it and adds a warning, `fail_action` fails the attempt.
 * `null` is a value (it clears a property at most vendors) and is kept.
 */
export function compileMapping(mapping: Mapping): (payload: Record<string, unknown>) => MappingOutcome {
  const fields: CompiledField[] = mapping.fields.map((field, index) => {
    const source = field.source;
    let read: CompiledField["read"];
    let describeSource: string;
    if (source.type === "literal") {
      const literal = source.value;
      read = () => literal;
      describeSource = `literal ${JSON.stringify(literal)}`;
    } else {
      const path = source.value;
      read = path.includes(".") ? (payload) => getPath(payload, path) : (payload) => payload[path];
      describeSource = `source path "${path}"`;
    }
    return {
      dest: field.dest.split("."),
      label: `field "${field.dest}" (mapping.fields[${index}])`,
      read,
      describeSource,
      steps: (field.transforms ?? []).map(compileTransform),
      policy: field.on_error ?? "warn_action",
    };
  });

  return (payload) => {
    const mapped: Record<string, unknown> = {};
    const warnings: string[] = [];
    for (const field of fields) {
      let value: unknown;
      let problem: string | undefined;
      try {
        value = field.read(payload);
        for (const step of field.steps) value = step(value);
        if (value === undefined) problem = `${field.describeSource} has no value`;
      } catch (error) {
        problem = error instanceof FieldError ? error.message : `transform failed: ${String(error)}`;
      }
      if (problem === undefined) {
        assign(mapped, field.dest, value);
        continue;
      }
      if (field.policy === "fail_action") return { mapped, warnings, error: `mapping ${field.label}: ${problem}` };
      if (field.policy === "warn_action") warnings.push(`mapping ${field.label} dropped: ${problem}`);
    }
    return { mapped, warnings };
  };
}

function assign(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const next = node[key];
    if (next === null || typeof next !== "object" || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

/** A short, safe rendering of a value for messages. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : typeof value;
}

const passMissing =
  (step: Step): Step =>
  (value) =>
    value === undefined || value === null ? value : step(value);

function stringOnly(name: string, fn: (value: string) => unknown): Step {
  return passMissing((value) => {
    if (typeof value !== "string") throw new FieldError(`${name} expects a string, got ${show(value)}`);
    return fn(value);
  });
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function dateIn(ms: number, timezone: string | undefined): string {
  if (!timezone) return new Date(ms).toISOString().slice(0, 10);
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" });
    formatters.set(timezone, format);
  }
  return format.format(ms);
}

/** Epoch ms from a date-like value: an ISO string, epoch seconds (below 1e11) or milliseconds. */
function toEpochMs(value: unknown, name: string): number {
  let ms: number;
  if (typeof value === "number") ms = Math.abs(value) < 1e11 ? value * 1000 : value;
  else if (typeof value === "string" && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return toEpochMs(Number(value), name);
  else if (typeof value === "string") ms = Date.parse(value.trim());
  else if (value instanceof Date) ms = value.getTime();
  else throw new FieldError(`${name} cannot read a date from ${show(value)}`);
  if (!Number.isFinite(ms)) throw new FieldError(`${name} cannot read a date from ${show(value)}`);
  return ms;
}

/** Compiles one transform (validated by the config schema) into a step. */
export function compileTransform(transform: MappingTransform): Step {
  const spec = typeof transform === "string" ? { type: transform } : transform;
  switch (spec.type) {
    case "to_string":
      return passMissing((value) => (typeof value === "object" ? JSON.stringify(value) : String(value)));
    case "to_number":
      return passMissing((value) => {
        if (typeof value === "number") {
          if (Number.isFinite(value)) return value;
        } else if (typeof value === "boolean") {
          return value ? 1 : 0;
        } else if (typeof value === "string" && value.trim() !== "") {
          const number = Number(value.trim());
          if (Number.isFinite(number)) return number;
        }
        throw new FieldError(`to_number cannot convert ${show(value)}`);
      });
    case "to_boolean":
      return passMissing((value) => {
        if (typeof value === "boolean") return value;
        if (value === 1 || value === 0) return value === 1;
        if (typeof value === "string") {
          const text = value.trim().toLowerCase();
          if (["true", "1", "yes", "y", "on"].includes(text)) return true;
          if (["false", "0", "no", "n", "off"].includes(text)) return false;
        }
        throw new FieldError(`to_boolean cannot convert ${show(value)}`);
      });
    case "to_date": {
      const timezone = "timezone" in spec ? spec.timezone : undefined;
      return passMissing((value) => {
        if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value.trim())) {
          const text = value.trim();
          if (new Date(`${text}T00:00:00Z`).toISOString().startsWith(text)) return text;
          throw new FieldError(`to_date: ${show(value)} is not a real date`);
        }
        return dateIn(toEpochMs(value, "to_date"), timezone);
      });
    }
    case "to_datetime":
      return passMissing((value) => new Date(toEpochMs(value, "to_datetime")).toISOString());
    case "default": {
      const fallback = (spec as { value: unknown }).value;
      return (value) => (value === undefined || value === null || value === "" ? fallback : value);
    }
    case "trim":
      return stringOnly("trim", (value) => value.trim());
    case "lower":
      return stringOnly("lower", (value) => value.toLowerCase());
    case "upper":
      return stringOnly("upper", (value) => value.toUpperCase());
    case "substring": {
      const { start, end, length } = spec as { start: number; end?: number; length?: number };
      const stop = length !== undefined ? start + length : end;
      return stringOnly("substring", (value) => value.slice(start, stop));
    }
    default:
      throw new FieldError(`unknown transform ${JSON.stringify((spec as { type: unknown }).type)}`);
  }
}

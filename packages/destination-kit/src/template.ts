import { MappingError } from "./errors.js";

const TEMPLATE = /\{\{\s*([\w.$-]+)\s*\}\}/g;
const WHOLE = /^\{\{\s*([\w.$-]+)\s*\}\}$/;

/** Reads `a.b.0.c` from an object; undefined when any step is missing. */
export function getPath(root: unknown, path: string): unknown {
  let value: unknown = root;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** True when the string holds at least one `{{path}}`. */
export function hasTemplate(value: string): boolean {
  return value.includes("{{");
}

/**
 * Renders `{{path.to.value}}` from `data`. A string that is exactly one template keeps the
 * value's type (`"{{sequence_step}}"` → `3`); otherwise values are interpolated as text,
 * passed through `escape` when given. A path that resolves to nothing is a `MappingError`.
 */
export function renderTemplate(template: string, data: unknown, escape?: (text: string) => string): unknown {
  const whole = escape ? null : WHOLE.exec(template);
  if (whole) return lookup(whole[1]!, data, template);
  return template.replace(TEMPLATE, (_match, path: string) => {
    const value = lookup(path, data, template);
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    return escape ? escape(text) : text;
  });
}

/** Renders every string inside a value (objects and arrays included). */
export function renderTemplates<T>(value: T, data: unknown): T {
  if (typeof value === "string") return (hasTemplate(value) ? renderTemplate(value, data) : value) as T;
  if (Array.isArray(value)) return value.map((item) => renderTemplates(item, data)) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = renderTemplates(item, data);
    return out as T;
  }
  return value;
}

function lookup(path: string, data: unknown, template: string): unknown {
  const value = getPath(data, path);
  if (value === undefined || value === null) {
    throw new MappingError(`template "${template}": the payload has no value at "${path}"`);
  }
  return value;
}

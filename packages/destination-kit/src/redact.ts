const REDACTED = "[REDACTED]";
const SENSITIVE_HEADER = /authorization|cookie|token|secret|api-?key|password/i;

const unchanged = (text: string) => text;

/** Every string leaf of a value, e.g. all credential fields. */
export function stringLeaves(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const item of value) stringLeaves(item, out);
  else if (value && typeof value === "object") for (const item of Object.values(value)) stringLeaves(item, out);
  return out;
}

/**
 * Builds a function that replaces every occurrence of the given secrets (raw and URL-encoded)
 * with `[REDACTED]`. Strings shorter than 4 characters are not treated as secrets.
 */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  if (secrets.length === 0) return unchanged;
  // Every attempt of a connection redacts the same credentials: reuse the redactor built for them.
  const key = secrets.join("\u0000");
  const known = redactors.get(key);
  if (known) return known;
  const redactor = buildRedactor(secrets);
  if (redactors.size >= 256) redactors.delete(redactors.keys().next().value!);
  redactors.set(key, redactor);
  return redactor;
}

const redactors = new Map<string, (text: string) => string>();

function buildRedactor(secrets: readonly string[]): (text: string) => string {
  const needles = [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s)]))]
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length);
  if (needles.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const needle of needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    return out;
  };
}

/** Headers as a plain object with credential-bearing ones masked. */
export function redactHeaders(
  headers: Headers | Record<string, string> | undefined,
  redact: (text: string) => string,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  // forEach and for...in: no pair array and iterator per header, on every request and answer.
  const add = (value: string, name: string) => {
    out[name.toLowerCase()] = SENSITIVE_HEADER.test(name) ? REDACTED : redact(value);
  };
  if (headers instanceof Headers) headers.forEach(add);
  else for (const name in headers) add(headers[name]!, name);
  return out;
}

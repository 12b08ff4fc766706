// Configuration fragments: guides often show a rule or a connection as a bare object literal
// (or a few, one after the other). Those are checked as what they are — each literal must be a
// valid `RuleConfig`, `ConnectionConfig`, `WorkspaceConfig`, … — instead of being skipped.

/** Skips a string, template, or comment starting at `i`; returns the index after it, or `i` if none starts there. */
function skipNonCode(code: string, i: number): number {
  const c = code[i];
  if (c === '"' || c === "'" || c === "`") {
    let j = i + 1;
    while (j < code.length && code[j] !== c) j += code[j] === "\\" ? 2 : 1;
    return j + 1;
  }
  if (c === "/" && code[i + 1] === "/") {
    const end = code.indexOf("\n", i);
    return end === -1 ? code.length : end;
  }
  if (c === "/" && code[i + 1] === "*") {
    const end = code.indexOf("*/", i + 2);
    return end === -1 ? code.length : end + 2;
  }
  return i;
}

/** True when the block is object literals (and comments), e.g. a rule or two. */
export function isObjectFragment(code: string): boolean {
  return code[firstCode(code)] === "{";
}

/** True when the block starts like the inside of an object literal: `name: value,` (comments aside). */
export function isPropertyFragment(code: string): boolean {
  const start = firstCode(code);
  return /^[A-Za-z_$][\w$]*\s*:(?!:)/.test(code.slice(start));
}

function firstCode(code: string): number {
  let i = 0;
  while (i < code.length) {
    if (/\s/.test(code[i]!)) i++;
    else if (code[i] === "/" && (code[i + 1] === "/" || code[i + 1] === "*")) i = skipNonCode(code, i);
    else break;
  }
  return i;
}

/**
 * Puts a comma between top-level object literals that have none (just before the next one), so a
 * block of literals becomes the body of an array literal. Line numbers are unchanged.
 */
export function commaSeparate(code: string): string {
  let out = "";
  let depth = 0;
  let pendingComma = false;
  let i = 0;
  while (i < code.length) {
    const next = skipNonCode(code, i);
    if (next !== i) {
      out += code.slice(i, next);
      i = next;
      continue;
    }
    const c = code[i]!;
    if (depth === 0 && pendingComma && !/\s/.test(c)) {
      if (c !== ",") out += ",";
      pendingComma = false;
    }
    if (c === "{" || c === "[" || c === "(") depth++;
    if (c === "}" || c === "]" || c === ")") {
      depth--;
      if (depth === 0) pendingComma = true;
    }
    out += c;
    i++;
  }
  return out;
}

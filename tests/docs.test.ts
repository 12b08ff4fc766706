// Keeps the guides honest: every ```ts block in docs/, the root README and the package and
// example READMEs is type-checked against the package sources (one program), blocks marked
// ```ts run are also run, every ```json block must parse, and every relative link must point
// at a file that exists.
//
// A block that is a true fragment can opt out with `nocheck` on its fence line (```ts nocheck);
// `file=<name>` names a block so other blocks of the page can import it.
// Bare rules and connections (`{ id: …, workspace: … }`) are checked as configuration objects,
// snippets that import nothing from @meshwork/* get the package exports they name imported, and
// tests/docs-check/prelude.d.ts declares the placeholders guides use (`workspaces`, `engine`, …).
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { promisify } from "node:util";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { codeBlocks, markdownFiles, type CodeBlock } from "./docs-check/extract.js";
import { commaSeparate, isObjectFragment, isPropertyFragment } from "./docs-check/fragments.js";
import { blockPath, CHECK_DIR, implicitImports, typecheckBlocks } from "./docs-check/typecheck.js";

const root = join(import.meta.dirname, "..");
const files = markdownFiles(root);
const texts = new Map(files.map((file) => [file, readFileSync(join(root, file), "utf8")]));
const blocks: CodeBlock[] = files.flatMap((file) => codeBlocks(file, texts.get(file)!));
const isTs = (block: CodeBlock) => block.lang === "ts" || block.lang === "typescript";
const where = (block: CodeBlock) => `${block.file}:${block.line}`;

// The generated files are not part of any tsconfig project: leave none behind for `eslint .`.
afterAll(() => rmSync(join(root, CHECK_DIR), { recursive: true, force: true }));

describe("documentation code blocks", () => {
  it("finds the guides and their TypeScript blocks", () => {
    expect(files).toContain("README.md");
    expect(files).toContain("docs/README.md");
    expect(blocks.filter(isTs).length).toBeGreaterThan(20);
  });

  const checked = blocks.filter((block) => isTs(block) && !block.flags.includes("nocheck"));

  it("type-checks every ```ts block", () => {
    const problems = typecheckBlocks(root, checked).map((d) => `${d.block.file}:${d.line}: ${d.message}`);
    expect(problems, `fix the block, or mark a true fragment \`\`\`ts nocheck`).toEqual([]);
  }, 180_000);

  // ```ts run: a complete program (the quick starts), run with tsx after the type check wrote it.
  const runnable = checked.filter((block) => block.flags.includes("run"));
  it.each(runnable.map((block) => [where(block), block] as const))("runs %s to completion", async (_where, block) => {
    const path = blockPath(join(root, CHECK_DIR), block);
    if (!existsSync(path)) typecheckBlocks(root, checked); // when this test runs on its own
    const tsx = join(root, "node_modules", ".bin", "tsx");
    const { stdout } = await promisify(execFile)(tsx, [path], { cwd: dirname(path), timeout: 60_000 });
    // `console.log(x); // what it prints`: the comment must match the output.
    for (const [, printed] of block.code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)) expect(stdout).toContain(printed!.trim());
  }, 90_000);

  it("parses every ```json block", () => {
    const problems: string[] = [];
    for (const block of blocks.filter((b) => b.lang === "json" && !b.flags.includes("nocheck"))) {
      try {
        JSON.parse(block.code);
      } catch (error) {
        problems.push(`${where(block)}: ${(error as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  /**
   * Guides other issues are writing, linked from the index already. Remove an entry when its page
   * lands; a link to one of these fails as soon as the page exists and is then moved or renamed.
   */
  const PENDING = new Set<string>();

  it("links only to files that exist", () => {
    const problems: string[] = [];
    for (const [file, text] of texts) {
      const prose = text.replace(/^(\s*)(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n\1\2\s*$/gm, ""); // not inside code blocks
      for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^(?:[a-z]+:|#)/i.test(target!)) continue; // URLs and same-page anchors
        const path = decodeURIComponent(target!.split("#")[0]!);
        const resolved = join(dirname(file), path);
        if (!existsSync(join(root, resolved)) && !PENDING.has(resolved)) problems.push(`${file}: ${target}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("the docs checker", () => {
  it("recognizes configuration fragments and separates consecutive literals", () => {
    const two = `// a rule\n{ id: "a", event: "x" }\n{ id: "b", event: "y" } // trailing`;
    expect(isObjectFragment(two)).toBe(true);
    expect(commaSeparate(two)).toBe(`// a rule\n{ id: "a", event: "x" }\n,{ id: "b", event: "y" } // trailing`);
    expect(commaSeparate(`{ a: "}" },\n{ b: 1 }`)).toBe(`{ a: "}" },\n{ b: 1 }`);
    expect(isObjectFragment(`const a = { b: 1 };`)).toBe(false);
    expect(isPropertyFragment(`connections: [],\nrules: [],`)).toBe(true);
    expect(isPropertyFragment(`import { a } from "b";`)).toBe(false);
  });

  it("imports the package exports a snippet names, unless it imports from @meshwork itself", () => {
    const exports = new Map([
      ["createClient", { from: "@meshwork/events", value: true }],
      ["QueuedEvent", { from: "@meshwork/events", value: false }],
      ["createEngine", { from: "@meshwork/rules", value: true }],
    ]);
    expect(implicitImports(`const m = createClient({}); let q: QueuedEvent[] = [];`, exports)).toEqual([
      `import { createClient, type QueuedEvent } from "@meshwork/events";`,
    ]);
    expect(implicitImports(`import { z } from "zod";\ncreateClient({})`, exports)).toHaveLength(1);
    expect(implicitImports(`import { createEngine } from "@meshwork/rules";\ncreateClient({})`, exports)).toEqual([]);
    expect(implicitImports(`function createClient() {}`, exports)).toEqual([]);
  });
});

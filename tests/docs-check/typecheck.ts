// Type-checks documentation code blocks as one TypeScript program, with the repository's
// tsconfig, so `@meshwork/*` imports resolve to the package sources.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import type { CodeBlock } from "./extract.js";
import { commaSeparate, isObjectFragment, isPropertyFragment } from "./fragments.js";

export interface BlockDiagnostic {
  block: CodeBlock;
  /** 1-based line inside the Markdown file. */
  line: number;
  message: string;
}

/** Where the blocks are written: inside the repository (git-ignored), so the root tsconfig applies. */
export const CHECK_DIR = ".tmp/docs-check";

/**
 * Where a block is written: one folder per Markdown file, so a block can import another block of
 * the same page that names itself with `file=<name>` on its fence (```ts file=meshwork.config.ts).
 */
export function blockPath(dir: string, block: CodeBlock): string {
  const name = block.flags.find((flag) => flag.startsWith("file="))?.slice("file=".length) ?? `L${block.line}.ts`;
  return join(dir, block.file.replace(/[^\w]+/g, "_"), name);
}

/** Public exports of the `@meshwork/*` packages: name → the package and whether it is a value. */
export type ExportIndex = Map<string, { from: string; value: boolean }>;

const DECLARED = (name: string) => new RegExp(`\\b(?:const|let|var|function|class|interface|type|enum)\\s+${name}\\b`);

/**
 * The imports a snippet that imports nothing from `@meshwork/*` is given: each public export of
 * a `@meshwork/*` package it names and does not declare itself. A block that imports from
 * `@meshwork/*` is taken as complete and gets none, so one that forgets a name still fails.
 */
export function implicitImports(code: string, exports: ExportIndex): string[] {
  if (/^\s*import\s[^;]*from\s*["']@meshwork\//m.test(code)) return [];
  const byModule = new Map<string, string[]>();
  for (const [name, { from, value }] of exports) {
    if (!new RegExp(`\\b${name}\\b`).test(code) || DECLARED(name).test(code)) continue;
    byModule.set(from, [...(byModule.get(from) ?? []), value ? name : `type ${name}`]);
  }
  return [...byModule].map(([from, names]) => `import { ${names.join(", ")} } from "${from}";`);
}

/** The TypeScript file a block becomes, and how many lines were put before its code. */
export function blockSource(block: CodeBlock, exports: ExportIndex = new Map()): { source: string; offset: number } {
  if (isPropertyFragment(block.code)) {
    // `connections: [...], rules: [...]` or `when: {...}`: part of a config, a rule or a connection.
    const head = [
      'import { env } from "@meshwork/rules";',
      'import type { ConnectionConfig, MeshworkConfigInput, RuleConfig } from "@meshwork/rules";',
      "export const config = {",
    ];
    const type = "Partial<MeshworkConfigInput> & Partial<RuleConfig> & Partial<ConnectionConfig>";
    return { source: `${head.join("\n")}\n${block.code}\n} satisfies ${type};\n`, offset: head.length };
  }
  if (!isObjectFragment(block.code)) {
    const head = implicitImports(block.code, exports);
    return { source: `${[...head, block.code].join("\n")}\n`, offset: head.length };
  }
  const head = [
    'import { env } from "@meshwork/rules";',
    'import type { DocFragment } from "../../../tests/docs-check/fragment-types.ts";',
    "export const fragments = [",
  ];
  return { source: `${head.join("\n")}\n${commaSeparate(block.code)}\n] satisfies DocFragment[];\n`, offset: head.length };
}

/**
 * Writes each block to `.tmp/docs-check/<page>/L<line>.ts` (or its `file=` name) and checks them all in one program,
 * with `tests/docs-check/prelude.d.ts` for the placeholders guides use. Diagnostics are mapped
 * back to lines of the Markdown files.
 */
export function typecheckBlocks(root: string, blocks: CodeBlock[]): BlockDiagnostic[] {
  const dir = join(root, CHECK_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const configPath = join(root, "tsconfig.json");
  const { config } = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, root, { noEmit: true }, configPath);
  // Third-party modules the guides import, from where the workspace has them.
  const options: ts.CompilerOptions = { ...parsed.options, paths: { ...parsed.options.paths, zod: ["./packages/rules/node_modules/zod"] } };
  const host = ts.createCompilerHost(options);

  const { exports, program: indexProgram } = exportIndex(root, dir, options, host);
  const byFile = new Map<string, { block: CodeBlock; offset: number }>();
  for (const block of blocks) {
    const path = blockPath(dir, block);
    const { source, offset } = blockSource(block, exports);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, source);
    byFile.set(ts.sys.resolvePath(path), { block, offset });
  }

  // A page that imports `./meshwork.config.ts` without showing one gets a placeholder config.
  for (const page of new Set([...byFile.keys()].map((path) => dirname(path)))) {
    const config = join(page, "meshwork.config.ts");
    if (!existsSync(config)) writeFileSync(config, 'export { default } from "../../../tests/docs-check/placeholder-config.ts";\n');
  }

  const extras = ["prelude.d.ts", "platforms.d.ts"].map((name) => join(root, "tests", "docs-check", name));
  const program = ts.createProgram([...extras, ...byFile.keys()], options, host, indexProgram);

  const diagnostics: BlockDiagnostic[] = [];
  // Only the blocks are checked (the packages have their own typecheck), which keeps this fast.
  const checked = [...byFile.keys()].map((path) => program.getSourceFile(path)!);
  const all = [
    ...program.getOptionsDiagnostics(),
    ...program.getGlobalDiagnostics(),
    ...checked.flatMap((file) => [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)]),
  ];
  for (const diagnostic of all) {
    const file = diagnostic.file ? ts.sys.resolvePath(diagnostic.file.fileName) : undefined;
    const entry = file ? byFile.get(file) : undefined;
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    if (!entry) {
      // A problem outside the blocks (a package source, the prelude's imports): report it on every block's behalf once.
      diagnostics.push({ block: blocks[0]!, line: 0, message: `${diagnostic.file?.fileName ?? "program"}: ${message}` });
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    diagnostics.push({ block: entry.block, line: entry.block.line + 1 + line - entry.offset, message });
  }
  return diagnostics;
}

/** Reads the public exports of each package's `src/index.ts` with the type checker. */
function exportIndex(root: string, dir: string, options: ts.CompilerOptions, host: ts.CompilerHost): { exports: ExportIndex; program: ts.Program } {
  const packages = readdirSync(join(root, "packages"))
    .filter((name) => existsSync(join(root, "packages", name, "src", "index.ts")))
    .sort((a, b) => PRIORITY.indexOf(a) - PRIORITY.indexOf(b) || a.localeCompare(b));
  const path = join(dir, "_exports.ts");
  writeFileSync(path, packages.map((name, i) => `export * as p${i} from "@meshwork/${name}";`).join("\n"));
  const program = ts.createProgram([path], options, host);
  const checker = program.getTypeChecker();
  const exports: ExportIndex = new Map();
  const file = program.getSourceFile(path);
  const moduleSymbol = file && checker.getSymbolAtLocation(file);
  for (const namespace of moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []) {
    const from = `@meshwork/${packages[Number(namespace.name.slice(1))]}`;
    const target = checker.getAliasedSymbol(namespace);
    for (const symbol of checker.getExportsOfModule(target)) {
      if (exports.has(symbol.name)) continue; // the first package in PRIORITY wins a shared name
      const resolved = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      exports.set(symbol.name, { from, value: (resolved.flags & ts.SymbolFlags.Value) !== 0 });
    }
  }
  return { exports, program };
}

/** Which package a name exported by several is taken from. */
const PRIORITY = ["events", "rules", "server", "destination-kit", "webhook", "hubspot", "activecampaign", "intercom", "slack"];

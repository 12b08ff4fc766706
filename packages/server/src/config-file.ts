import { access, readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { MeshworkConfigError } from "@meshwork/rules";
import { createJiti } from "jiti";
import { MeshworkServerError } from "./errors.js";
import type { ConfigModule, LoadedConfigFile } from "./types.js";

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Reads a config file: TypeScript or JavaScript (`.ts`, `.mts`, `.cts`, `.js`, `.mjs`, `.cjs`,
 * loaded with jiti, tsconfig `paths` honoured) or JSON. The default export is either a config
 * (`defineConfig({ workspaces, connections, rules, accessKeys })` or the plain object) or
 * `{ config, destinations?, destinationOptions?, server? }`, or a function (possibly async)
 * returning one of those. A `MeshworkConfigError` thrown while loading (by `defineConfig`)
 * passes through with its problems; any other failure is a `MeshworkServerError` `config_load_failed`.
 *
 * @example
 * const { config, destinations, server } = await loadConfigFile("meshwork.config.ts");
 */
export async function loadConfigFile(path: string): Promise<LoadedConfigFile> {
  const absolute = resolve(path);
  let exported: unknown;
  try {
    await access(absolute);
  } catch (error) {
    throw new MeshworkServerError("config_load_failed", `cannot load config ${absolute}: the file does not exist (pass --config <path>)`, { cause: error });
  }
  try {
    if (extname(absolute).toLowerCase() === ".json") {
      exported = JSON.parse(await readFile(absolute, "utf8"));
    } else {
      const jiti = createJiti(absolute, { tsconfigPaths: true, moduleCache: false });
      exported = await jiti.import(absolute, { default: true });
    }
    if (typeof exported === "function") exported = await (exported as () => unknown)();
  } catch (error) {
    if (MeshworkConfigError.isInstance(error)) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new MeshworkServerError("config_load_failed", `cannot load config ${absolute}: ${reason}`, { cause: error });
  }
  return { ...normalizeConfigModule(exported, absolute), path: absolute };
}

/** Tells a bare config from `{ config, destinations, server }`. */
export function normalizeConfigModule(exported: unknown, source = "the config"): ConfigModule {
  if (isObject(exported) && (exported.kind === "meshwork.config" || "workspaces" in exported)) {
    return { config: exported as unknown as ConfigModule["config"] };
  }
  if (isObject(exported) && isObject(exported.config)) {
    const out: ConfigModule = { config: exported.config as unknown as ConfigModule["config"] };
    if (exported.destinations !== undefined) {
      if (!Array.isArray(exported.destinations)) throw invalidExport(source, "destinations must be an array of destinations, e.g. [webhook({ allowedHosts })]");
      out.destinations = exported.destinations as ConfigModule["destinations"];
    }
    if (exported.destinationOptions !== undefined) {
      if (!isObject(exported.destinationOptions)) throw invalidExport(source, "destinationOptions must be an object keyed by destination type");
      out.destinationOptions = exported.destinationOptions as ConfigModule["destinationOptions"];
    }
    if (exported.server !== undefined) {
      if (!isObject(exported.server)) throw invalidExport(source, "server must be an object of server settings");
      out.server = exported.server as ConfigModule["server"];
    }
    return out;
  }
  throw invalidExport(source, "the default export must be a Meshwork config ({ workspaces, connections, rules }) or { config, destinations?, destinationOptions?, server? }");
}

const invalidExport = (source: string, message: string) => new MeshworkServerError("config_load_failed", `${source}: ${message}`);

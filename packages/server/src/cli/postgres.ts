import { migrate, postgresStore, type PostgresStore } from "@meshwork/postgres";
import { createEngine, MeshworkRulesError } from "@meshwork/rules";
import { loadConfigFile } from "../config-file.js";
import { resolveDestinations } from "../destinations.js";
import { createLogger } from "../logger.js";
import { CliError, type CliIO } from "./io.js";
import { printStartError, runUntilSignal } from "./lifecycle.js";

/** Flags naming the Postgres database: `--database-url` (env `MESHWORK_DATABASE_URL`, then `DATABASE_URL`) and `--schema`. */
export interface DatabaseFlags {
  databaseUrl?: string;
  schema?: string;
}

/** Flags of `meshwork worker`. */
export interface WorkerFlags extends DatabaseFlags {
  config: string;
  logLevel?: string;
}

/** The database URL from the flag or the environment; a usage error (exit 2) when there is none. */
export function databaseUrl(flags: DatabaseFlags, io: CliIO, command: string): string {
  const url = flags.databaseUrl ?? io.env.MESHWORK_DATABASE_URL ?? io.env.DATABASE_URL;
  if (!url) throw new CliError(`${command} needs --database-url postgres://… (or MESHWORK_DATABASE_URL, or DATABASE_URL)`, 2);
  return url;
}

/** The Postgres store for `serve --database-url` and `worker`. */
export function postgresFromFlags(flags: DatabaseFlags, io: CliIO, command: string): PostgresStore {
  return postgresStore({ connectionString: databaseUrl(flags, io, command), ...(flags.schema !== undefined && { schema: flags.schema }) });
}

/** `meshwork migrate`: creates or upgrades the Postgres schema, then exits. */
export async function migrateCommand(flags: DatabaseFlags, io: CliIO): Promise<number> {
  const connectionString = databaseUrl(flags, io, "meshwork migrate");
  try {
    const { schema, from, to } = await migrate({ connectionString, ...(flags.schema !== undefined && { schema: flags.schema }) });
    io.stdout(from === to ? `schema "${schema}" is up to date (version ${to})\n` : `schema "${schema}" migrated from version ${from} to ${to}\n`);
    return 0;
  } catch (error) {
    io.stderr(`meshwork: ${MeshworkRulesError.isInstance(error) || error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/**
 * `meshwork worker`: an engine that only claims and delivers from the shared Postgres queue (no
 * HTTP). Runs until SIGTERM or SIGINT, then finishes what it runs, releases the rest and exits 0.
 */
export async function workerCommand(flags: WorkerFlags, io: CliIO): Promise<number> {
  const store = postgresFromFlags(flags, io, "meshwork worker");
  let loaded;
  try {
    loaded = await loadConfigFile(flags.config);
  } catch (error) {
    return printStartError(error, flags.config, io);
  }
  const log = createLogger({ level: flags.logLevel ?? loaded.server?.logLevel ?? "info" });
  let engine;
  try {
    engine = createEngine({
      ...loaded.server?.engine,
      config: loaded.config,
      destinations: resolveDestinations(loaded.destinations, loaded.destinationOptions),
      store,
      role: "worker",
      logger: { warn: (message, detail) => log.warn({ detail }, message), error: (message, detail) => log.error({ detail }, message) },
    });
    engine.on("error", (error) => log.error({ err: error.message }, "engine background error"));
    await engine.start();
  } catch (error) {
    await store.close().catch(() => {});
    return printStartError(error, loaded.path, io);
  }
  log.info({ schema: store.schema, connections: engine.config.connections.length, rules: engine.config.rules.length }, "worker started");
  const running = engine;
  return runUntilSignal(io, () => {
    log.info("worker stopping: finishing attempts in flight, releasing the rest");
    return running.stop();
  });
}

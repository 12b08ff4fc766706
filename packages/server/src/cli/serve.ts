import { loadConfigFile } from "../config-file.js";
import { createServer } from "../server.js";
import { postgresFromFlags } from "./postgres.js";
import type { MeshworkServer, RateLimitOptions } from "../types.js";
import { CliError, type CliIO } from "./io.js";
import { printStartError, runUntilSignal } from "./lifecycle.js";

/** Flags of `meshwork serve`. */
export interface ServeFlags {
  config: string;
  port?: string;
  host?: string;
  db?: string;
  memory?: boolean;
  logLevel?: string;
  rateLimit?: string;
  /** Postgres (`@meshwork/postgres`) instead of SQLite: a delivery queue shared with workers. */
  databaseUrl?: string;
  schema?: string;
  role?: "both" | "ingest";
  /** False with `--no-dashboard`. */
  dashboard?: boolean;
}

function integer(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new CliError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`, 2);
  return n;
}

/** `meshwork serve`: listens until SIGTERM or SIGINT, then drains and answers exit code 0. */
export async function serveCommand(flags: ServeFlags, io: CliIO): Promise<number> {
  // Not DATABASE_URL, unlike `worker` and `migrate`: many platforms set it for the app's own
  // database, and `serve` must not leave SQLite for it unasked.
  const databaseUrl = flags.databaseUrl ?? io.env.MESHWORK_DATABASE_URL;
  if (databaseUrl !== undefined && (flags.db !== undefined || flags.memory)) throw new CliError("--database-url cannot be combined with --db or --memory", 2);
  if (databaseUrl === undefined && (flags.schema !== undefined || flags.role !== undefined)) throw new CliError("--schema and --role need --database-url", 2);
  let loaded;
  try {
    loaded = await loadConfigFile(flags.config);
  } catch (error) {
    return printStartError(error, flags.config, io);
  }
  const file = loaded.server ?? {};
  const port = flags.port !== undefined ? integer(flags.port, "--port", 0, 65535) : (file.port ?? 8787);
  const host = flags.host ?? file.host ?? "127.0.0.1";
  const db = flags.memory || databaseUrl !== undefined ? undefined : (flags.db ?? file.db ?? "./meshwork.db");
  let rateLimit: RateLimitOptions | false | undefined = file.rateLimit;
  if (flags.rateLimit !== undefined) {
    const n = integer(flags.rateLimit, "--rate-limit", 0, 10_000_000);
    rateLimit = n === 0 ? false : { requests: n, perMs: 1000 };
  }

  let server: MeshworkServer;
  try {
    server = createServer({
      config: loaded.config,
      ...(loaded.destinations && { destinations: loaded.destinations }),
      ...(loaded.destinationOptions && { destinationOptions: loaded.destinationOptions }),
      ...(db !== undefined && { db }),
      ...(databaseUrl !== undefined && { store: postgresFromFlags({ databaseUrl, ...(flags.schema !== undefined && { schema: flags.schema }) }, io, "meshwork serve") }),
      ...(rateLimit !== undefined && { rateLimit }),
      ...(file.managementRateLimit !== undefined && { managementRateLimit: file.managementRateLimit }),
      ...(file.maxOpenDeliveries !== undefined && { maxOpenDeliveries: file.maxOpenDeliveries }),
      ...(file.cors !== undefined && { cors: file.cors }),
      ...(file.maxBodyBytes !== undefined && { maxBodyBytes: file.maxBodyBytes }),
      ...(file.idempotencyTtlMs !== undefined && { idempotencyTtlMs: file.idempotencyTtlMs }),
      ...(file.shutdownTimeoutMs !== undefined && { shutdownTimeoutMs: file.shutdownTimeoutMs }),
      ...(file.metrics !== undefined && { metrics: file.metrics }),
      ...((flags.dashboard === false || file.dashboard !== undefined) && { dashboard: flags.dashboard !== false && file.dashboard !== false }),
      ...((file.engine !== undefined || flags.role !== undefined) && { engine: { ...file.engine, ...(flags.role !== undefined && { role: flags.role }) } }),
      logger: { level: flags.logLevel ?? file.logLevel ?? "info" },
    });
    await server.listen({ port, host });
  } catch (error) {
    return printStartError(error, loaded.path, io);
  }

  return runUntilSignal(io, () => server.close());
}

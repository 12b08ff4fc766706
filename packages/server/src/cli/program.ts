import { Command, CommanderError, Option } from "commander";
import { MeshworkServerError } from "../errors.js";
import { cancelCommand, DEFAULT_URL, eventsListCommand, eventsShowCommand, replayCommand, retryCommand, type ApiFlags } from "./api-commands.js";
import { CliError, processIO, type CliIO } from "./io.js";
import { migrateCommand, workerCommand, type DatabaseFlags, type WorkerFlags } from "./postgres.js";
import { serveCommand, type ServeFlags } from "./serve.js";
import { validateCommand } from "./validate.js";

const VERSION = "0.1.0";

/** Adds the management connection flags (`--url`, `--access-key`, `--secret-key`, `--json`). */
function withApi(command: Command): Command {
  return command
    .option("--url <url>", `server URL (env MESHWORK_URL, default ${DEFAULT_URL})`)
    .option("--access-key <key>", "access key (env MESHWORK_ACCESS_KEY)")
    .option("--secret-key <key>", "secret key (env MESHWORK_SECRET_KEY; prefer the variable, flags show in `ps`)")
    .option("--json", "print the API's JSON answer");
}

/** Adds the Postgres flags of `worker` and `migrate` (`--database-url`, `--schema`). */
function withDatabase(command: Command): Command {
  return command
    .option("--database-url <url>", "the Postgres database (env MESHWORK_DATABASE_URL, then DATABASE_URL)")
    .option("--schema <name>", "the Postgres schema (default meshwork)");
}

/**
 * The `meshwork` command tree. Each action stores its exit code in `result.code`; `serve` resolves
 * only after a signal drained the server; `worker` (Postgres) after a signal stopped its engine.
 */
export function createProgram(io: CliIO, result: { code: number }): Command {
  const program = new Command("meshwork")
    .description("Meshwork: the self-hosted endpoint for the Meshes events API, and its management CLI")
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });

  program
    .command("serve")
    .description("run the endpoint: ingestion, management API, /healthz, /readyz, /metrics")
    .option("-c, --config <path>", "config file (.ts, .js or .json)", "meshwork.config.ts")
    .option("-p, --port <port>", "port to listen on (default 8787; 0 picks one)")
    .option("--host <host>", "interface to listen on (default 127.0.0.1; 0.0.0.0 for every interface)")
    .option("--db <path>", "SQLite database file (default ./meshwork.db)")
    .option("--memory", "keep everything in memory (nothing survives a restart)")
    .option("--database-url <url>", "Postgres instead of SQLite: a queue shared with other serve and worker processes (env MESHWORK_DATABASE_URL)")
    .option("--schema <name>", "with --database-url: the Postgres schema (default meshwork)")
    .addOption(new Option("--role <role>", "with --database-url: deliver too (both, default) or only take events (ingest)").choices(["both", "ingest"]))
    .option("--rate-limit <n>", "requests per second per publishable key (0 turns the limit off; default 1000)")
    .option("--no-dashboard", "do not serve the dashboard at / (the API stays)")
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
    .action(async (flags: ServeFlags) => {
      result.code = await serveCommand(flags, io);
    });

  withDatabase(
    program
      .command("worker")
      .description("deliver from the shared Postgres queue (no HTTP); run as many as you need")
      .option("-c, --config <path>", "config file (.ts, .js or .json)", "meshwork.config.ts"),
  )
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
    .action(async (flags: WorkerFlags) => {
      result.code = await workerCommand(flags, io);
    });

  withDatabase(program.command("migrate").description("create or upgrade the Postgres schema, then exit"))
    .action(async (flags: DatabaseFlags) => {
      result.code = await migrateCommand(flags, io);
    });

  program
    .command("validate")
    .description("check a config file; prints every problem with its path (exit 1 when there is one)")
    .option("-c, --config <path>", "config file (.ts, .js or .json)", "meshwork.config.ts")
    .action(async (flags: { config: string }) => {
      result.code = await validateCommand(flags, io);
    });

  const events = program.command("events").description("list and inspect events on a running server");
  withApi(events.command("list").description("list events, newest first"))
    .option("--workspace <id>", "only this workspace")
    .option("--status <status>", "pending, processing, completed, failed or canceled (comma-separated for several)")
    .option("--event <name>", "only this event name")
    .option("--resource <resource>", "only this resource")
    .option("--resource-id <id>", "only this resource id")
    .option("--since <time>", "created since: ISO time, epoch ms, or a duration such as 1h")
    .option("--limit <n>", "events per page (1-500, default 50)")
    .option("--cursor <cursor>", "continue from a previous page")
    .option("--all", "follow every page")
    .action(async (flags) => {
      result.code = await eventsListCommand(flags, io);
    });
  withApi(events.command("show").description("show an event with its deliveries").argument("<event>", "event id"))
    .option("--payload", "include the payload")
    .option("--attempts", "include every delivery's attempts")
    .action(async (id: string, flags) => {
      result.code = await eventsShowCommand(id, flags, io);
    });

  withApi(program.command("retry").description("run a delivery again now, with a fresh retry schedule").argument("<event>", "event id").argument("<rule>", "rule id")).action(
    async (eventId: string, ruleId: string, flags: ApiFlags) => {
      result.code = await retryCommand(eventId, ruleId, flags, io);
    },
  );

  withApi(program.command("cancel").description("cancel a delivery, or every open delivery of an event").argument("<event>", "event id").argument("[rule]", "rule id")).action(
    async (eventId: string, ruleId: string | undefined, flags: ApiFlags) => {
      result.code = await cancelCommand(eventId, ruleId, flags, io);
    },
  );

  withApi(program.command("replay").description("send finished deliveries again (failed ones by default)"))
    .option("--workspace <id>", "the workspace (required when the key reaches several)")
    .option("--status <status>", "failed (default), canceled or completed; comma-separated for several")
    .option("--since <time>", "events created since: ISO time, epoch ms, or a duration such as 1h")
    .option("--until <time>", "events created before")
    .option("--connection <id>", "only this connection")
    .option("--rule <id>", "only this rule")
    .option("--event <name>", "only this event name")
    .option("--outcome <outcome>", "only deliveries whose last attempt had this outcome, e.g. auth_failed")
    .option("--dry-run", "only count what would be replayed")
    .action(async (flags) => {
      result.code = await replayCommand(flags, io);
    });

  return program;
}

/** Runs the CLI with `argv` (without `node` and the script); answers the exit code. */
export async function runCli(argv: string[], io: CliIO = processIO()): Promise<number> {
  const result = { code: 0 };
  const program = createProgram(io, result);
  try {
    await program.parseAsync(argv, { from: "user" });
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help" ? 0 : 2;
    }
    if (error instanceof CliError) {
      io.stderr(`meshwork: ${error.message}\n`);
      return error.exitCode;
    }
    if (MeshworkServerError.isInstance(error)) {
      io.stderr(`meshwork: ${error.message}\n`);
      return 1;
    }
    io.stderr(`meshwork: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

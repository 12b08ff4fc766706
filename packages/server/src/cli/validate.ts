import { MeshworkConfigError, validateConfig } from "@meshwork/rules";
import { loadConfigFile } from "../config-file.js";
import { resolveDestinations } from "../destinations.js";
import { MeshworkServerError } from "../errors.js";
import type { CliIO } from "./io.js";

/** `meshwork validate`: prints every problem with its path; answers the exit code (0 valid, 1 problems). */
export async function validateCommand(options: { config: string }, io: CliIO): Promise<number> {
  let loaded;
  try {
    loaded = await loadConfigFile(options.config);
  } catch (error) {
    if (MeshworkConfigError.isInstance(error)) return report(options.config, error.problems, io);
    io.stderr(`✗ ${MeshworkServerError.isInstance(error) ? error.message : String(error)}\n`);
    return 1;
  }
  const destinations = resolveDestinations(loaded.destinations, loaded.destinationOptions);
  let problems;
  try {
    problems = validateConfig(loaded.config, destinations);
  } catch (error) {
    problems = MeshworkConfigError.isInstance(error) ? error.problems : [{ path: "(config)", message: String(error) }];
  }
  if (problems.length) return report(loaded.path, problems, io);
  const c = loaded.config as { workspaces?: unknown[]; connections?: unknown[]; rules?: unknown[]; accessKeys?: unknown[] };
  io.stdout(
    `✓ ${loaded.path} is valid: ${c.workspaces?.length ?? 0} workspaces, ${c.connections?.length ?? 0} connections, ${c.rules?.length ?? 0} rules, ${c.accessKeys?.length ?? 0} access keys\n`,
  );
  return 0;
}

function report(path: string, problems: Array<{ path: string; message: string }>, io: CliIO): number {
  io.stderr(`✗ ${path}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n`);
  for (const p of problems) io.stderr(`  ${p.path}: ${p.message}\n`);
  return 1;
}

import { MeshworkConfigError } from "@meshwork/rules";
import type { CliIO } from "./io.js";

/**
 * Runs until SIGTERM or SIGINT, then calls `stop` once; resolves with the exit code: 0, or 1
 * when stopping failed. Shared by `serve` and `worker`.
 */
export function runUntilSignal(io: CliIO, stop: () => Promise<unknown>): Promise<number> {
  const onSignal = io.onSignal ?? ((signal, handler) => process.once(signal, handler));
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onStop = () => {
      if (stopping) return;
      stopping = true;
      stop().then(
        () => resolve(0),
        (error: unknown) => {
          io.stderr(`meshwork: shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`);
          resolve(1);
        },
      );
    };
    onSignal("SIGTERM", onStop);
    onSignal("SIGINT", onStop);
  });
}

/** Prints why a command could not start (an invalid config with every problem, a port in use, …); answers exit code 1. */
export function printStartError(error: unknown, path: string, io: CliIO): number {
  if (MeshworkConfigError.isInstance(error)) {
    io.stderr(`meshwork: ${path} is not a valid config (${error.problems.length} problem${error.problems.length === 1 ? "" : "s"}); run \`meshwork validate --config ${path}\`\n`);
    for (const p of error.problems) io.stderr(`  ${p.path}: ${p.message}\n`);
    return 1;
  }
  if ((error as { code?: unknown }).code === "EADDRINUSE") {
    io.stderr(`meshwork: the port is already in use (${(error as Error).message})\n`);
    return 1;
  }
  io.stderr(`meshwork: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

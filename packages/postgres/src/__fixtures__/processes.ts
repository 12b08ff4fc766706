// Child processes for the distributed tests and the benchmark: spawn, wait for a line, stop.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Answer } from "./cluster.js";

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, "../../../..");
const CHILD = join(here, "cluster-child.ts");

export interface Child {
  proc: ChildProcessByStdio<null, Readable, Readable>;
  pid: number;
  lines: string[];
  stderr: () => string;
  /** Resolves with the first line matching (already seen or to come). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `cluster-child.ts` with these options (see ClusterEngineOptions there). */
export function startChild(options: Record<string, unknown>): Child {
  const proc = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(options)], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let buffer = "";
  let err = "";
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  proc.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  proc.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    proc,
    pid: proc.pid!,
    lines,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child ${proc.pid} did not print ${pattern} within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)), timeoutMs);
        void exited.then(({ code, signal }) => {
          clearTimeout(timer);
          reject(new Error(`child ${proc.pid} exited (${code ?? signal}) before printing ${pattern}; stderr: ${err.slice(-2000)}`));
        });
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
  };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill("SIGTERM");
  const timer = setTimeout(() => child.proc.kill("SIGKILL"), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export interface LoggedRequest {
  pid: number;
  key: string;
  at: number;
  answer: Answer;
  path: string;
}

/** Every request the flaky simulators of every process logged under `dir`. */
export function readRequests(dir: string): LoggedRequest[] {
  if (!existsSync(dir)) return [];
  const out: LoggedRequest[] = [];
  for (const file of readdirSync(dir)) {
    if (!file.endsWith(".log")) continue;
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) if (line) out.push(JSON.parse(line) as LoggedRequest);
  }
  return out;
}

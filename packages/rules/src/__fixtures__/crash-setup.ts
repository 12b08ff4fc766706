// Shared by the crash test and the child process it kills: the same config and destination.
import { appendFileSync } from "node:fs";
import { createEngine, sqliteStore, type Engine } from "../index.js";
import { acmeConnection, config, noteRule } from "./config.js";
import { acme } from "./destinations.js";

export const CRASH_RULES = ["notes-1", "notes-2", "notes-3"];

/** An engine on the SQLite file whose slow sandbox destination logs every request it receives. */
export function crashEngine(db: string, log: string): Engine {
  return createEngine({
    config: config(
      CRASH_RULES.map((rule) => acmeConnection(`conn-${rule}`, "acme-prod", { concurrency: 8, rateLimit: { requests: 10_000, perMs: 1000 } })),
      CRASH_RULES.map((rule) => noteRule(rule, `conn-${rule}`)),
    ),
    destinations: [
      acme({
        simulator: {
          delayMs: 15,
          onRequest: (request) => appendFileSync(log, `${JSON.stringify({ pid: process.pid, key: request.idempotencyKey })}\n`),
        },
      }),
    ],
    store: sqliteStore({ path: db }),
    logger: { warn: () => {}, error: () => {} },
  });
}

#!/usr/bin/env node
import { runCli } from "./cli/program.js";

runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`meshwork: ${String(error)}\n`);
    process.exit(1);
  },
);

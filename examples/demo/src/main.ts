// `npm run demo` from the repository root, or `npx tsx examples/demo/src/main.ts`.
// Nothing to configure and no network: every destination is an in-memory simulator.
import { runDemo } from "./demo.js";

const tty = process.stdout.isTTY === true;
let statusShown = false;
const clearStatus = () => {
  if (statusShown) process.stdout.write("\r\x1b[2K");
  statusShown = false;
};

const result = await runDemo({
  print: (line) => {
    clearStatus();
    process.stdout.write(`${line}\n`);
  },
  ...(tty && {
    status: (line: string) => {
      clearStatus();
      if (line) process.stdout.write(line);
      statusShown = line.length > 0;
    },
  }),
});

const incomplete = result.reports.flatMap((r) => r.deliveries).filter((d) => d.status !== "completed");
if (incomplete.length > 0) {
  console.error(`${incomplete.length} deliveries did not complete: ${incomplete.map((d) => d.rule_id).join(", ")}`);
  process.exitCode = 1;
}

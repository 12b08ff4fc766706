import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { CRASH_RULES, crashEngine } from "./__fixtures__/crash-setup.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");
const dir = mkdtempSync(join(tmpdir(), "meshwork-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const lines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

describe("crash and restart", () => {
  it(
    "loses no accepted event when the process is SIGKILLed mid-run; interrupted attempts run again with the same idempotency key",
    async () => {
      const db = join(dir, "crash.db");
      const log = join(dir, "requests.log");
      const EVENTS = 1500;
      const child = spawn(process.execPath, ["--import", "tsx", join(here, "__fixtures__/crash-child.ts"), db, log, String(EVENTS)], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      });
      const accepted = new Set<string>();
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const parts = stdout.split("\n");
        stdout = parts.pop()!;
        for (const line of parts) if (line.startsWith("accepted ")) for (const id of line.slice(9).split(",")) accepted.add(id);
      });
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));

      // Kill it once it has delivered a good part of the work, with plenty still in flight.
      const started = Date.now();
      while (lines(log).length < 1500) {
        if (Date.now() - started > 45_000) throw new Error(`the child did not get going: ${stderr}`);
        if (child.exitCode !== null) throw new Error(`the child exited early (${child.exitCode}): ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const killedAt = Date.now();
      child.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
      const before = lines(log).length;
      expect(accepted.size).toBeGreaterThan(0);

      // What the dead process left behind.
      const raw = new Database(db, { readonly: true });
      const stranded = raw.prepare("SELECT id, event_id, rule_id, idempotency_key, status FROM deliveries WHERE status IN ('pending', 'processing', 'retrying')").all() as Array<{ id: string; event_id: string; rule_id: string; idempotency_key: string; status: string }>;
      const processing = stranded.filter((d) => d.status === "processing");
      const eventCount = (raw.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
      raw.close();
      expect(stranded.length, "deliveries open at the kill").toBeGreaterThan(0);
      expect(processing.length, "deliveries processing at the kill").toBeGreaterThan(0);
      expect(eventCount).toBeGreaterThanOrEqual(accepted.size);

      // A fresh engine on the same file finishes the work.
      const engine = crashEngine(db, log);
      await engine.start();
      await engine.drain({ timeoutMs: 60_000 });
      const drainedAt = Date.now();

      for (const id of accepted) {
        const event = await engine.events.get(id);
        expect(event, id).toBeDefined();
        expect(event!.deliveries.map((d) => d.rule_id).sort()).toEqual(CRASH_RULES);
        expect(event!.deliveries.every((d) => d.status === "completed"), `${id}: ${JSON.stringify(event!.deliveries)}`).toBe(true);
      }
      const all = await engine.events.list({ limit: 500, status: ["pending", "processing", "failed", "canceled"] });
      expect(all.records).toEqual([]);

      const requests = lines(log).map((line) => JSON.parse(line) as { pid: number; key: string });
      const afterRestart = requests.slice(before).filter((r) => r.pid === process.pid);
      const retriedKeys = new Set(afterRestart.map((r) => r.key));
      for (const delivery of processing) {
        // Sent again, carrying the key it had before the crash…
        expect(retriedKeys.has(delivery.idempotency_key), delivery.id).toBe(true);
        const attempts = await engine.attempts.list(delivery.event_id, delivery.rule_id);
        // …and the interrupted attempt is on record before the one that delivered.
        expect(attempts.at(-2)!.message).toMatch(/^attempt interrupted/);
        expect(attempts.at(-1)!.outcome).toBe("delivered");
      }
      // Every delivery reached the destination under its own key; none was lost.
      const keys = new Set(requests.map((r) => r.key));
      const check = new Database(db, { readonly: true });
      const total = (check.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'completed'").get() as { n: number }).n;
      const completedKeys = check.prepare("SELECT idempotency_key FROM deliveries").pluck().all() as string[];
      check.close();
      expect(total).toBe(eventCount * CRASH_RULES.length);
      expect(completedKeys.every((key) => keys.has(key))).toBe(true);
      await engine.stop();
      console.info(`crash test: ${accepted.size} events acknowledged, ${eventCount} stored, ${stranded.length} deliveries open at the kill (${processing.length} processing), ${requests.length - before} requests after the restart; child ran ${killedAt - started} ms, restart drained in ${drainedAt - killedAt} ms, checks ${Date.now() - drainedAt} ms`);
    },
    120_000,
  );
});

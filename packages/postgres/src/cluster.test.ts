// Several processes on one Postgres: three workers and an ingest process share 20,000
// deliveries against a flaky sandbox destination; a worker is SIGKILLed mid-run; a rate limit
// holds across processes. Each process is a child running __fixtures__/cluster-child.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { checkReachable, DATABASE_URL, dropSchema, testSchema } from "./__fixtures__/db.js";
import { clusterEngine, clusterEvent, KEY, type ClusterConfig } from "./__fixtures__/cluster.js";
import { readRequests, startChild, stopChild, type Child } from "./__fixtures__/processes.js";
import { migrate } from "./index.js";

const ok = await checkReachable("cluster.test.ts");
const dir = mkdtempSync(join(tmpdir(), "meshwork-cluster-"));
const schemas: string[] = [];
const children: Child[] = [];

afterAll(async () => {
  await Promise.all(children.map((child) => stopChild(child, 2000)));
  if (ok) for (const schema of schemas) await dropSchema(schema);
  rmSync(dir, { recursive: true, force: true });
});

async function setup(name: string) {
  const schema = testSchema(`mw_${name}`);
  schemas.push(schema);
  await migrate({ connectionString: DATABASE_URL, schema });
  const logs = mkdtempSync(join(dir, `${name}-`));
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  const s = pg.escapeIdentifier(schema);
  const count = async (sql: string, params: unknown[] = []) => Number((await pool.query(sql.replaceAll("$s", s), params)).rows[0].n);
  return { schema, logs, pool, s, count };
}

function child(options: Record<string, unknown>): Child {
  const started = startChild({ databaseUrl: DATABASE_URL, ...options });
  children.push(started);
  return started;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number, every = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}

describe.skipIf(!ok)("several processes on one Postgres", () => {
  it(
    "three workers and an ingest process deliver 20,000 deliveries through faults and a SIGKILL: each once, except interrupted ones, with complete history",
    async () => {
      const { schema, logs, pool, s, count } = await setup("share");
      const EVENTS = 5000;
      const CONNECTIONS = 4;
      const TOTAL = EVENTS * CONNECTIONS;
      const config: ClusterConfig = {
        connections: CONNECTIONS,
        concurrency: 64,
        timeoutMs: 1000,
        retry: { schedule: [0, 100, 200, 400, 800, 1600, 3200], jitter: 0.2 },
        // Faults are spread evenly; the breaker would only add waiting here.
        breaker: { failureThreshold: 0 },
      };
      const flaky = (name: string) => ({ log: join(logs, `${name}.log`), p500: 0.04, p429: 0.02, pHang: 0.002, hangMs: 1500, delayMs: 1 });
      const workers = [0, 1, 2].map((i) => child({ role: "worker", schema, config, flaky: flaky(`worker-${i}`), leaseMs: 2000, workerId: `worker-${i}`, pollIntervalMs: 500 }));
      await Promise.all(workers.map((w) => w.waitFor(/^ready/)));
      const started = Date.now();
      const ingest = child({ role: "ingest", schema, config, flaky: flaky("ingest"), events: EVENTS, batch: 250, prefix: "share" });

      // Kill worker-1 once the run is well under way, while it holds deliveries.
      await until("a quarter of the deliveries", async () => (await count(`SELECT count(*) AS n FROM $s.deliveries WHERE status = 'completed'`)) >= TOTAL / 4, 60_000, 50);
      const victim = workers[1]!;
      victim.proc.kill("SIGKILL");
      const killedAt = Date.now();
      expect((await victim.exited).signal).toBe("SIGKILL");
      const { rows: stranded } = await pool.query(`SELECT id, idempotency_key, status, locked_until FROM ${s}.deliveries WHERE locked_by = 'worker-1' AND status IN ('pending', 'processing', 'retrying')`);
      expect(stranded.length, "deliveries the killed worker held").toBeGreaterThan(0);

      await ingest.waitFor(/^done/, 60_000);
      await until("every delivery to finish", async () => (await count(`SELECT count(*) AS n FROM $s.deliveries WHERE status IN ('pending', 'processing', 'retrying')`)) === 0, 90_000, 200);
      const finishedAt = Date.now();
      await Promise.all([ingest, ...workers].map((c) => stopChild(c)));

      // Every delivery is stored and finished.
      expect(await count(`SELECT count(*) AS n FROM $s.events`)).toBe(EVENTS);
      expect(await count(`SELECT count(*) AS n FROM $s.deliveries`)).toBe(TOTAL);
      const { rows: statuses } = await pool.query(`SELECT status, count(*)::int AS n FROM ${s}.deliveries GROUP BY status`);
      expect(statuses.filter((r) => r.status !== "completed" && r.status !== "failed")).toEqual([]);
      expect(await count(`SELECT count(*) AS n FROM $s.events WHERE status IN ('pending', 'processing')`)).toBe(0);
      // The history is complete: attempt_count equals the attempts stored, numbered 1…n.
      expect(await count(`SELECT count(*) AS n FROM $s.deliveries d LEFT JOIN (SELECT delivery_id, count(*) AS c, max(attempt) AS m FROM $s.attempts GROUP BY delivery_id) a ON a.delivery_id = d.id WHERE d.attempt_count <> coalesce(a.c, 0) OR d.attempt_count <> coalesce(a.m, 0)`)).toBe(0);
      expect(await count(`SELECT count(*) AS n FROM $s.deliveries WHERE status = 'completed' AND last_outcome <> 'delivered'`)).toBe(0);

      // At the destination: each delivery answered 2xx once, except ones whose attempt was
      // interrupted by the SIGKILL (processing, so at-least-once may send them again).
      const requests = readRequests(logs);
      const delivered = new Map<string, number>();
      for (const r of requests) if (r.answer === "ok") delivered.set(r.key, (delivered.get(r.key) ?? 0) + 1);
      const { rows: finals } = await pool.query(`SELECT d.idempotency_key AS key, d.status, EXISTS (SELECT 1 FROM ${s}.attempts a WHERE a.delivery_id = d.id AND a.message LIKE 'attempt interrupted%') AS interrupted FROM ${s}.deliveries d`);
      const twice = finals.filter((d) => (delivered.get(d.key) ?? 0) > 1);
      expect(twice.filter((d) => !d.interrupted), "delivered twice without an interrupted attempt").toEqual([]);
      expect(finals.filter((d) => d.status === "completed" && !delivered.get(d.key)), "completed but never answered 2xx").toEqual([]);
      expect(finals.filter((d) => d.status === "failed" && delivered.get(d.key) && !d.interrupted), "failed but answered 2xx").toEqual([]);

      // The killed worker's deliveries were taken over by the others once its leases expired.
      const strandedKeys = new Set(stranded.map((d) => d.idempotency_key as string));
      const lastLease = Math.max(...stranded.map((d) => Number(d.locked_until)));
      const takeover = requests.filter((r) => strandedKeys.has(r.key) && r.at > killedAt);
      expect(takeover.every((r) => r.pid !== victim.pid)).toBe(true);
      expect(new Set(takeover.map((r) => r.key)).size).toBe(strandedKeys.size);
      // Nobody touched them before their lease ran out (the lease is taken on the DB clock, the same machine's).
      const earliest = new Map<string, number>();
      for (const r of takeover) earliest.set(r.key, Math.min(earliest.get(r.key) ?? Infinity, r.at));
      const leaseOf = new Map(stranded.map((d) => [d.idempotency_key as string, Number(d.locked_until)]));
      expect([...earliest].filter(([key, at]) => at < leaseOf.get(key)! - 5)).toEqual([]);
      const pids = new Set(requests.filter((r) => r.answer === "ok").map((r) => r.pid));
      expect(pids.size).toBeGreaterThanOrEqual(3);

      const answers = requests.reduce<Record<string, number>>((acc, r) => ((acc[r.answer] = (acc[r.answer] ?? 0) + 1), acc), {});
      const interrupted = finals.filter((d) => d.interrupted).length;
      console.info(
        `cluster: ${TOTAL} deliveries in ${((finishedAt - started) / 1000).toFixed(1)} s over 3 workers (one SIGKILLed ${((killedAt - started) / 1000).toFixed(1)} s in, holding ${stranded.length}; its last lease ran out ${lastLease - killedAt} ms later); ` +
          `requests ${JSON.stringify(answers)}; ${statuses.map((r) => `${r.n} ${r.status}`).join(", ")}; ${interrupted} interrupted attempts, ${twice.length} sent twice after the kill`,
      );
      await pool.end();
    },
    150_000,
  );

  it(
    "a SIGKILLed worker's deliveries wait for its lease, then another worker takes them and records the interrupted attempts",
    async () => {
      const { schema, logs, pool, s, count } = await setup("lease");
      const config: ClusterConfig = { connections: 1, concurrency: 10, timeoutMs: 20_000, retry: { schedule: [0, 100], jitter: 0 } };
      // A claims all ten (concurrency 10) and sits in their slow attempts; B starts meanwhile.
      const a = child({ role: "both", schema, config, flaky: { log: join(logs, "a.log"), delayMs: 15_000 }, leaseMs: 1500, workerId: "A", events: 10, batch: 10, prefix: "lease" });
      await a.waitFor(/^done/);
      await until("A to hold the deliveries", async () => (await count(`SELECT count(*) AS n FROM $s.deliveries WHERE locked_by = 'A' AND status = 'processing'`)) === 10, 20_000, 20);
      const b = child({ role: "worker", schema, config, flaky: { log: join(logs, "b.log") }, leaseMs: 1500, workerId: "B", pollIntervalMs: 100 });
      await b.waitFor(/^ready/);
      // A's renewed leases kept B away all along.
      expect(await count(`SELECT count(*) AS n FROM $s.deliveries WHERE locked_by = 'A'`)).toBe(10);
      a.proc.kill("SIGKILL");
      await a.exited;
      const killedAt = Date.now();
      const { rows: held } = await pool.query(`SELECT idempotency_key, locked_until FROM ${s}.deliveries WHERE locked_by = 'A'`);
      expect(held).toHaveLength(10);
      await until("B to finish them", async () => (await count(`SELECT count(*) AS n FROM $s.deliveries WHERE status = 'completed'`)) === 10, 30_000, 50);
      const requests = readRequests(logs).filter((r) => r.pid === b.pid);
      const leaseEnd = Math.min(...held.map((r) => Number(r.locked_until)));
      expect(requests).toHaveLength(10);
      expect(Math.min(...requests.map((r) => r.at))).toBeGreaterThanOrEqual(leaseEnd - 5);
      const { rows: attempts } = await pool.query(`SELECT attempt, outcome, message FROM ${s}.attempts ORDER BY delivery_id, attempt`);
      expect(attempts).toHaveLength(20);
      for (let i = 0; i < 20; i += 2) {
        expect(attempts[i]).toMatchObject({ attempt: 1, outcome: "internal_error", message: expect.stringMatching(/^attempt interrupted/) });
        expect(attempts[i + 1]).toMatchObject({ attempt: 2, outcome: "delivered" });
      }
      console.info(`lease: killed at +0, lease ran out at +${leaseEnd - killedAt} ms, B's first request at +${Math.min(...requests.map((r) => r.at)) - killedAt} ms`);
      await stopChild(b);
      await pool.end();
    },
    60_000,
  );

  it(
    "holds a connection's rate limit across three workers, per HTTP request (three per attempt)",
    async () => {
      const { schema, logs, pool, count } = await setup("rate");
      const LIMIT = { requests: 5, perMs: 1000 };
      const EVENTS = 8;
      const config: ClusterConfig = { connections: 1, action: "triple", concurrency: 2, rateLimit: LIMIT, timeoutMs: 5000 };
      const workers = [0, 1, 2].map((i) => child({ role: "worker", schema, config, flaky: { log: join(logs, `w${i}.log`) }, workerId: `rate-${i}`, pollIntervalMs: 100 }));
      await Promise.all(workers.map((w) => w.waitFor(/^ready/)));
      // This process ingests (an engine with role "ingest" takes no deliveries).
      const ingest = clusterEngine({ databaseUrl: DATABASE_URL, role: "ingest", schema, config });
      await ingest.start();
      await ingest.ingest(Array.from({ length: EVENTS }, (_, i) => clusterEvent(`rate-${i}`)), { publishableKey: KEY });
      await until("every delivery", async () => (await count(`SELECT count(*) AS n FROM $s.deliveries WHERE status = 'completed'`)) === EVENTS, 30_000, 100);
      const times = readRequests(logs)
        .map((r) => r.at)
        .sort((x, y) => x - y);
      const pids = new Set(readRequests(logs).map((r) => r.pid));
      expect(times).toHaveLength(EVENTS * 3);
      expect(pids.size, "requests came from several workers").toBeGreaterThanOrEqual(2);
      // A token bucket of `requests` tokens refilled at requests/perMs: any window of T ms holds at
      // most burst + rate·T requests. Tokens are taken on the database clock just before each request
      // leaves, so a window at the destination may also hold requests granted up to LAG ms earlier
      // (the grant-to-arrival delay on this loaded machine; one more request at most at 5/s).
      // Three per-process buckets (15/s) or a limit per attempt (15 requests/s) break this bound.
      const rate = LIMIT.requests / LIMIT.perMs;
      const LAG = 200;
      let worst = -Infinity;
      let tightest = "";
      for (let i = 0; i < times.length; i++) {
        for (let j = i; j < times.length; j++) {
          const allowed = LIMIT.requests + rate * (times[j]! - times[i]! + LAG);
          if (j - i + 1 - allowed > worst) {
            worst = j - i + 1 - allowed;
            tightest = `${j - i + 1} requests in ${times[j]! - times[i]!} ms (bound ${allowed.toFixed(2)})`;
          }
          expect(j - i + 1, `requests ${i}…${j} within ${times[j]! - times[i]!} ms`).toBeLessThanOrEqual(allowed);
        }
      }
      // …and the limit did the pacing: 24 requests at 5/s after a burst of 5 take at least 3.7 s.
      const span = times.at(-1)! - times[0]!;
      expect(span).toBeGreaterThanOrEqual(((times.length - LIMIT.requests) / rate) - LAG);
      console.info(`rate: ${times.length} requests from ${pids.size} workers over ${span} ms (${((times.length - 1) / (span / 1000)).toFixed(2)}/s); tightest window: ${tightest}; arrivals ${times.map((t) => t - times[0]!).join(",")}`);
      await Promise.all(workers.map((c) => stopChild(c)));
      await ingest.stop();
      await pool.end();
    },
    60_000,
  );
});

// A small destination whose sandbox simulator fails at random (500, 429 with Retry-After, a hang
// past the timeout) and logs every request it answers to a file, so the test process can count,
// across processes, how many times each delivery (idempotency key) reached the destination.
// Shared by the distributed tests, their child processes and bench/postgres.
import { appendFileSync } from "node:fs";
import { createSimulator, defineAction, defineDestination, PermanentError, type Destination, type SimulatorOptions } from "@meshwork/destination-kit";
import { createEngine, type Engine, type EngineOptions, type MeshworkConfigInput } from "@meshwork/rules";
import { postgresStore } from "@meshwork/postgres";

export const KEY = "mw_pub_cluster_0123456789";
export const WORKSPACE = "cluster";

/** What a request's answer was, as logged. */
export type Answer = "ok" | "500" | "429" | "hang";

export interface FlakyOptions {
  /** Append `{"pid","key","at","answer","path"}` lines here (one file per process). */
  log?: string;
  /** Probability of each fault per request. */
  p500?: number;
  p429?: number;
  pHang?: number;
  /** How long a hung request is held before the simulator gives up on it, ms (longer than the timeout). */
  hangMs?: number;
  /** Answer after this long, ms. */
  delayMs?: number;
}

/** Accepts anything, as a zod schema would (this package does not depend on zod). */
const any = { safeParse: (data: unknown) => ({ success: true, data }) } as unknown as Destination["credentials"];

const json = (body: unknown, status: number, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

/** The flaky destination; `deliver` makes one request, `triple` three (like ActiveCampaign's sync). */
export function flaky(options: FlakyOptions = {}) {
  const simulator = () => {
    const lines: string[] = [];
    const record = (key: string, answer: Answer, path: string) => {
      const line = `{"pid":${process.pid},"key":${JSON.stringify(key)},"at":${Date.now()},"answer":"${answer}","path":"${path}"}\n`;
      // Written before the answer leaves, so a SIGKILL never loses a request the worker saw answered.
      if (options.log) appendFileSync(options.log, line);
      else lines.push(line);
    };
    const handler = async (request: Request): Promise<Response> => {
      const key = request.headers.get("idempotency-key") ?? "";
      const path = new URL(request.url).pathname;
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
      const roll = Math.random();
      const p500 = options.p500 ?? 0;
      const p429 = options.p429 ?? 0;
      const pHang = options.pHang ?? 0;
      if (roll < p500) {
        record(key, "500", path);
        return json({ message: "internal error" }, 500);
      }
      if (roll < p500 + p429) {
        record(key, "429", path);
        return json({ message: "slow down" }, 429, { "retry-after": "0.2" });
      }
      if (roll < p500 + p429 + pHang) {
        record(key, "hang", path);
        await new Promise((resolve) => setTimeout(resolve, options.hangMs ?? 1500));
        return json({ message: "gateway timeout" }, 504);
      }
      record(key, "ok", path);
      return json({ ok: true }, 200);
    };
    return createSimulator({
      type: "flaky",
      app: { fetch: handler } as unknown as SimulatorOptions<string[]>["app"],
      snapshot: () => lines,
    });
  };
  return defineDestination({
    type: "flaky",
    name: "Flaky",
    credentials: any,
    baseUrl: "https://flaky.test",
    headers: (credentials: { token: string }) => ({ authorization: `Bearer ${credentials.token}` }),
    actions: {
      deliver: defineAction({
        description: "One request, with the idempotency key",
        metadata: any,
        async perform({ request, idempotencyKey }) {
          await request("/deliveries", { method: "POST", body: { at: Date.now() }, headers: { "idempotency-key": idempotencyKey } });
        },
      }),
      noop: defineAction({
        description: "Makes no request: measures the engine and the store alone",
        metadata: any,
        async perform() {
          return { summary: "ok" };
        },
      }),
      gone: defineAction({
        description: "The receiver says it is gone for good (410): stop sending to this connection",
        metadata: any,
        async perform() {
          throw new PermanentError("receiver answered 410 Gone", { status: 410, disableConnection: true });
        },
      }),
      triple: defineAction({
        description: "Three requests in one attempt (find, update, tag)",
        metadata: any,
        async perform({ request, idempotencyKey }) {
          for (const step of ["find", "update", "tag"]) await request(`/${step}`, { method: "POST", body: {}, headers: { "idempotency-key": idempotencyKey } });
        },
      }),
    },
    sandbox: simulator,
  });
}

export interface ClusterConfig {
  /** Connections `c0…c{n-1}`, one rule each on `page.completed`. */
  connections: number;
  action?: "deliver" | "triple" | "noop" | "gone";
  rateLimit?: { requests: number; perMs: number };
  concurrency?: number;
  timeoutMs?: number;
  retry?: { schedule: number[]; jitter?: number };
  breaker?: { failureThreshold: number; cooldownMs?: number };
}

export function clusterConfig(c: ClusterConfig): MeshworkConfigInput {
  const ids = Array.from({ length: c.connections }, (_, i) => `c${i}`);
  return {
    workspaces: [{ id: WORKSPACE, name: "Cluster", environment: "production", publishableKeys: [KEY] }],
    connections: ids.map((id) => ({
      id,
      workspace: WORKSPACE,
      type: "flaky",
      name: id,
      mode: "sandbox" as const,
      credentials: { token: "flaky-secret-token" },
      ...(c.rateLimit && { rateLimit: c.rateLimit }),
      ...(c.concurrency !== undefined && { concurrency: c.concurrency }),
      ...(c.timeoutMs !== undefined && { timeoutMs: c.timeoutMs }),
      ...(c.retry && { retry: c.retry }),
      ...(c.breaker && { breaker: c.breaker }),
    })),
    rules: ids.map((id) => ({ id: `r-${id}`, workspace: WORKSPACE, connection: id, event: "page.completed", metadata: { action: c.action ?? "deliver" } })),
  };
}

export interface ClusterEngineOptions {
  databaseUrl: string;
  schema: string;
  role: NonNullable<EngineOptions["role"]>;
  config: ClusterConfig;
  flaky?: FlakyOptions;
  leaseMs?: number;
  pollIntervalMs?: number;
  workerId?: string;
  max?: number;
}

/** An engine on the shared Postgres schema, with the flaky sandbox destination. */
export function clusterEngine(o: ClusterEngineOptions): Engine {
  return createEngine({
    config: clusterConfig(o.config),
    destinations: [flaky(o.flaky)],
    store: postgresStore({ connectionString: o.databaseUrl, schema: o.schema, max: o.max ?? 6 }),
    role: o.role,
    ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }),
    ...(o.pollIntervalMs !== undefined && { pollIntervalMs: o.pollIntervalMs }),
    ...(o.workerId !== undefined && { workerId: o.workerId }),
    logger: { warn: () => {}, error: (m) => process.stderr.write(`[engine] ${m}\n`) },
  });
}

/** A page.completed event with a stable id. */
export function clusterEvent(id: string) {
  return { id, event: "page.completed", payload: { email: "alex@northstar.io", n: id } };
}

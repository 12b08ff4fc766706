// Rate limits apply per HTTP request: an attempt that makes several requests (ActiveCampaign's
// sync_contact makes up to three) waits for a token before each, through destination-kit's
// beforeRequest hook. On a test clock the waits are timers, so drain({ advanceClock }) runs them.
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createSimulator, defineAction, defineDestination, type SimulatorOptions } from "@meshwork/destination-kit";
import { createEngine, createTestClock, type Engine } from "./index.js";
import { KEY_A, config, pageCompleted } from "./__fixtures__/config.js";

const T0 = Date.parse("2026-03-01T09:00:00.000Z");
const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((engine) => engine.stop({ timeoutMs: 100 })));
});

/** A destination whose action makes `steps` requests; its simulator records when each arrives. */
function stepper(now: () => number, steps: number) {
  const seen: Array<{ path: string; at: number }> = [];
  const app = {
    fetch: (request: Request) => {
      seen.push({ path: new URL(request.url).pathname, at: now() });
      return new Response(JSON.stringify({ ok: true }), { status: 200, headers: { "content-type": "application/json" } });
    },
  } as unknown as SimulatorOptions<unknown>["app"];
  const destination = defineDestination({
    type: "stepper",
    name: "Stepper",
    credentials: z.object({ token: z.string() }),
    baseUrl: "https://stepper.test",
    rateLimit: { requests: 5, perMs: 1000 },
    actions: {
      sync: defineAction({
        description: `${steps} requests in one attempt`,
        metadata: z.object({}),
        async perform({ request }) {
          for (let i = 0; i < steps; i++) await request(`/step-${i}`, { method: "POST", body: {} });
        },
      }),
    },
    sandbox: () => createSimulator({ type: "stepper", app, snapshot: () => seen }),
  });
  return { destination, seen };
}

async function run(steps: number, events: number) {
  const clock = createTestClock({ now: T0 });
  const { destination, seen } = stepper(() => clock.now(), steps);
  const engine = createEngine({
    config: config(
      [{ id: "c1", workspace: "acme-prod", type: "stepper", name: "c1", mode: "sandbox", credentials: { token: "stepper-token" } }],
      [{ id: "r1", workspace: "acme-prod", connection: "c1", event: "page.completed", metadata: { action: "sync" } }],
    ),
    destinations: [destination],
    clock,
    logger: { warn: () => {}, error: () => {} },
  });
  engines.push(engine);
  await engine.start();
  await engine.ingest(
    Array.from({ length: events }, (_, i) => pageCompleted(`e${i}`)),
    { publishableKey: KEY_A },
  );
  await engine.drain({ advanceClock: true });
  return { engine, times: seen.map((s) => s.at - T0) };
}

describe("rate limits per HTTP request", () => {
  it("holds every window of the budget when each attempt makes three requests", async () => {
    const { engine, times } = await run(3, 8);
    expect(times).toHaveLength(24);
    // At most 5 requests in any 1000 ms window (the connection's budget), not 5 attempts.
    for (const start of times) expect(times.filter((t) => t >= start && t < start + 1000).length).toBeLessThanOrEqual(5);
    expect(times.at(-1)!).toBeGreaterThanOrEqual(4000);
    const detail = await engine.events.get("e7");
    expect(detail!.deliveries[0]).toMatchObject({ status: "completed", attempt_count: 1 });
  });

  it("leaves a one-request attempt exactly as before: the token taken at its start covers it", async () => {
    const { times } = await run(1, 7);
    expect(times).toEqual([0, 0, 0, 0, 0, 1000, 1000]);
  });
});

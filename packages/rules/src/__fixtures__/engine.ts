import type { Simulator } from "@meshwork/destination-kit";
import { createEngine, createTestClock, type Engine, type EngineOptions } from "../index.js";
import type { Attempt, ConnectionConfig, MeshworkConfigInput, RuleConfig, TestClock } from "../types.js";
import { acme, type AcmeSimulatorOptions, type AcmeSnapshot } from "./destinations.js";
import { config } from "./config.js";

export const T0 = Date.parse("2026-03-01T09:00:00.000Z");

export interface Harness {
  engine: Engine;
  clock: TestClock;
  sim: (connectionId: string) => Simulator<AcmeSnapshot>;
}

/** An engine on a test clock with the acme fixture destination, started. */
export async function startEngine(
  options: Omit<Partial<EngineOptions>, "config"> & {
    connections: ConnectionConfig[];
    rules: RuleConfig[];
    more?: Partial<MeshworkConfigInput>;
    simulator?: AcmeSimulatorOptions;
  },
): Promise<Harness> {
  const { connections, rules, more, simulator, ...rest } = options;
  const clock = (rest.clock as TestClock | undefined) ?? createTestClock({ now: T0 });
  const engine = createEngine({
    destinations: [acme({ simulator: { now: () => clock.now(), ...simulator } })],
    logger: { warn: () => {}, error: () => {} },
    ...rest,
    clock,
    config: config(connections, rules, more),
  });
  await engine.start();
  return { engine, clock, sim: (id) => engine.sandbox<AcmeSnapshot>(id) };
}

/** Gaps between consecutive attempts (start of one to start of the next), ms. */
export function gaps(attempts: Attempt[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < attempts.length; i++) {
    const previous = attempts[i - 1]!;
    out.push(Date.parse(attempts[i]!.started_at) - (Date.parse(previous.started_at) + previous.duration_ms));
  }
  return out;
}

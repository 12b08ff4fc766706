import { describe, expect, it } from "vitest";
import { createEngine, createTestClock } from "./index.js";
import { acme } from "./__fixtures__/destinations.js";
import { KEY_A, acmeConnection, config, noteRule, pageCompleted } from "./__fixtures__/config.js";

describe("smoke", () => {
  it("delivers", async () => {
    const clock = createTestClock({ now: Date.parse("2026-01-01T00:00:00Z") });
    const engine = createEngine({ config: config([acmeConnection("c1"), acmeConnection("c2")], [noteRule("r1", "c1"), noteRule("r2", "c2")]), destinations: [acme()], clock });
    await engine.start();
    const result = await engine.ingest([pageCompleted("e1"), pageCompleted("e2")], { publishableKey: KEY_A });
    expect(result.count).toBe(2);
    await engine.drain({ advanceClock: true });
    const detail = await engine.events.get("e1");
    console.log(JSON.stringify(detail, null, 1));
    console.log(JSON.stringify(await engine.attempts.list("e1", "r1"), null, 1));
    expect(engine.sandbox<any>("c1").snapshot().notes).toHaveLength(2);
    await engine.stop();
  });
});

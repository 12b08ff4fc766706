import type { MeshworkServer } from "@meshwork/server";
import { afterEach, describe, expect, it } from "vitest";
import { createEndpoint, PUBLISHABLE_KEY } from "./endpoint.js";
import handler from "./handler.js";

let endpoint: MeshworkServer | undefined;
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
});

async function setup() {
  endpoint = createEndpoint();
  const { url } = await endpoint.listen({ port: 0, host: "127.0.0.1" });
  const env = { MESHWORK_PUBLISHABLE_KEY: PUBLISHABLE_KEY, MESHWORK_ENDPOINT: url };
  const invoke = async (path: string, body: unknown) => {
    const waitUntil: Array<Promise<unknown>> = [];
    const response = await handler.fetch(new Request(`https://app.example.com${path}`, { method: "POST", body: JSON.stringify(body) }), env, {
      waitUntil: (promise) => waitUntil.push(promise),
    });
    return { response, waitUntil };
  };
  return { engine: endpoint.engine, invoke };
}

describe("a fetch-handler function", () => {
  it("emitAndFlush: the event is stored before the function answers", async () => {
    const { engine, invoke } = await setup();
    const { response } = await invoke("/signup", { email: "alex@northstar.io", plan: "pro" });
    expect(response.status).toBe(201);
    const { event_id } = (await response.json()) as { event_id: string };
    // No waiting on anything: the endpoint already has it.
    expect(await engine.events.get(event_id)).toMatchObject({ event: "user.signup", payload: { email: "alex@northstar.io", plan: "pro" } });
  });

  it("emit + waitUntil: answers at once, and the send completes within the promise handed to waitUntil", async () => {
    const { engine, invoke } = await setup();
    const { response, waitUntil } = await invoke("/onboarding/steps/2/complete", { user_id: "usr_5012", email: "alex@northstar.io" });
    expect(response.status).toBe(202);
    expect(waitUntil).toHaveLength(1);

    await Promise.all(waitUntil); // what the platform does before freezing the instance
    const { records } = await engine.events.list({ workspace: "acme-prod" });
    expect(records.map((r) => [r.event, r.resource])).toEqual([["page.completed", "onboarding_sequence"]]);
    await engine.drain();
    expect((await engine.events.get(records[0]!.id))?.deliveries.map((d) => d.status)).toEqual(["completed"]);
  });

  it("answers 404 without emitting anything", async () => {
    const { engine, invoke } = await setup();
    const { response, waitUntil } = await invoke("/nope", {});
    expect(response.status).toBe(404);
    expect(waitUntil).toEqual([]);
    expect((await engine.events.list()).records).toEqual([]);
  });
});

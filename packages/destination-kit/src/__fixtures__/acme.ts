// A small destination used by the kit's own tests: one API with contacts and notes.
import { z } from "zod";
import { createSimulator, createSimulatorApp, defineAction, defineDestination, type DestinationOptions, type RunActionInput } from "../index.js";

export function createAcmeSimulator() {
  const notes: Array<{ contact: string; text: string }> = [];
  const app = createSimulatorApp();
  app.use(async (c, next) => {
    if (c.req.header("authorization") !== "Bearer acme-secret-token") return c.json({ message: "bad token" }, 401);
    return next();
  });
  app.post("/v1/notes", async (c) => {
    const body = await c.req.json<{ contact: string; text: string }>();
    notes.push(body);
    return c.json({ id: notes.length }, 201);
  });
  return createSimulator({ type: "acme", app, snapshot: () => ({ notes }) });
}

export const acme = (options: DestinationOptions = {}) =>
  defineDestination({
    type: "acme",
    name: "Acme",
    options,
    credentials: z.object({ token: z.string().min(1) }),
    baseUrl: "https://api.acme.test/v1",
    headers: (credentials) => ({ authorization: `Bearer ${credentials.token}` }),
    rateLimit: { requests: 10, perMs: 1000 },
    actions: {
      add_note: defineAction({
        description: "Add a note to the contact",
        metadata: z.object({ text: z.string(), contact: z.string().email() }),
        async perform({ metadata, request }) {
          const { data } = await request<{ id: number }>("/notes", { method: "POST", body: metadata });
          return { summary: `note ${data.id} added` };
        },
      }),
    },
    sandbox: createAcmeSimulator,
  });

/** A `runAction` input for Acme's `add_note`, for one event; `overrides` replace any part. */
export const acmeInput = (overrides: Partial<RunActionInput> = {}): RunActionInput => ({
  destination: acme(),
  action: "add_note",
  credentials: { token: "acme-secret-token" },
  metadata: { text: "step {{sequence_step}} done", contact: "{{email}}" },
  event: {
    id: "evt_1",
    event: "page.completed",
    payload: { email: "alex@northstar.io", sequence_step: 3 },
    workspace: "acme-prod",
    created_at: "2026-11-26T00:00:00.000Z",
  },
  idempotencyKey: "del_1",
  connection: { id: "c1", workspace: "acme-prod", type: "acme", mode: "sandbox" },
  ...overrides,
});

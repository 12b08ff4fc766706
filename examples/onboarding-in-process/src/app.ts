// The web app: a Hono router whose onboarding route emits `page.completed`. Only `meshwork.emit`
// touches Meshwork, so moving the rules to a hosted endpoint changes nothing here.
import type { MeshworkClient } from "@meshwork/events";
import { Hono } from "hono";

/** The onboarding sequence's pages, by step. */
export const PAGES: Record<number, { page_id: string; page_title: string }> = {
  1: { page_id: "pg_create_workspace", page_title: "Create your workspace" },
  2: { page_id: "pg_invite_team", page_title: "Invite your team" },
  3: { page_id: "pg_connect_data", page_title: "Connect your data" },
};

interface StepBody {
  time_on_page_seconds?: number;
}

/** A stand-in for your auth middleware: the user comes from the `x-user-id` / `x-user-email` headers. */
type Env = { Variables: { user: { id: string; email: string } } };

export function createApp(meshwork: MeshworkClient): Hono<Env> {
  const app = new Hono<Env>();

  app.use("/onboarding/*", async (c, next) => {
    const id = c.req.header("x-user-id");
    const email = c.req.header("x-user-email");
    if (!id || !email) return c.json({ error: "unauthenticated" }, 401);
    c.set("user", { id, email });
    await next();
  });

  app.post("/onboarding/steps/:step/complete", async (c) => {
    const step = Number(c.req.param("step"));
    const page = PAGES[step];
    if (!page) return c.json({ error: `unknown step ${c.req.param("step")}` }, 404);
    const body = await c.req.json<StepBody>().catch((): StepBody => ({}));
    const user = c.get("user");

    // Fire and forget: the client batches, retries and never rejects unhandled. `await` it to
    // know the event is stored (up to `flushIntervalMs` later).
    void meshwork.emit({
      event: "page.completed",
      resource: "onboarding_sequence",
      resource_id: "workspace-setup",
      payload: {
        user_id: user.id,
        email: user.email,
        ...page,
        sequence_step: step,
        completed_at: new Date().toISOString(),
        time_on_page_seconds: body.time_on_page_seconds ?? null,
      },
    });
    return c.json({ step, next: PAGES[step + 1] ? `/onboarding/steps/${step + 1}/complete` : null }, 201);
  });

  return app;
}

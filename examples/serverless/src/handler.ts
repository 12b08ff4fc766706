// A serverless function in the fetch-handler style (Cloudflare Workers, Vercel and Netlify edge
// functions, Deno Deploy, Bun): the platform calls `fetch(request, env, ctx)` and may freeze the
// instance as soon as the response is returned. Two ways to emit so nothing is lost:
// - `emitAndFlush` when the event must be accepted before answering (a signup);
// - `emit` plus the platform's `waitUntil`, which keeps the instance alive until the client has
//   sent everything, without delaying the response (an onboarding step).
import { createClient } from "@meshwork/events";

export interface Env {
  MESHWORK_PUBLISHABLE_KEY: string;
  /** The hosted endpoint: `meshwork serve`, or Meshes. */
  MESHWORK_ENDPOINT: string;
}

/** What the platform passes as the third argument. */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

const json = (body: unknown, status = 200) => Response.json(body, { status });

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    // One client per invocation, bound to this invocation's waitUntil.
    const meshwork = createClient({
      publishableKey: env.MESHWORK_PUBLISHABLE_KEY,
      endpoint: env.MESHWORK_ENDPOINT,
      waitUntil: (promise) => ctx.waitUntil(promise),
      flushIntervalMs: 20,
    });
    const { pathname } = new URL(request.url);

    if (request.method === "POST" && pathname === "/signup") {
      const { email, plan } = (await request.json()) as { email: string; plan?: string };
      // Resolves once the endpoint stored the event: the answer can carry its id.
      const receipt = await meshwork.emitAndFlush({ event: "user.signup", payload: { email, plan: plan ?? "free" } });
      return json({ ok: true, event_id: receipt.id }, 201);
    }

    const step = /^\/onboarding\/steps\/(\d+)\/complete$/.exec(pathname)?.[1];
    if (request.method === "POST" && step) {
      const { user_id, email } = (await request.json()) as { user_id: string; email: string };
      // Fire and forget: waitUntil carries the send past the response.
      void meshwork.emit({
        event: "page.completed",
        resource: "onboarding_sequence",
        payload: { user_id, email, sequence_step: Number(step), completed_at: new Date().toISOString() },
      });
      return json({ ok: true }, 202);
    }

    return json({ error: "not_found" }, 404);
  },
};

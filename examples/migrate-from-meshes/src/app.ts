// The application code, unchanged from the Meshes days except for the import and the base URL:
// `EventsClient` is a drop-in for `@mesheshq/events` (same constructor, emit, emitBatch,
// promise or callback style, mesh_pub_ keys).
import { EventsClient } from "@meshwork/events"; // was: import { EventsClient } from "@mesheshq/events";

export function createEvents(apiBaseUrl: string) {
  return new EventsClient(process.env.MESHES_PUBLISHABLE_KEY ?? "mesh_pub_acme_Z3kq8XfA2pL", { apiBaseUrl, timeout: 10_000 });
}

export async function onSignup(events: EventsClient, user: { email: string; first_name: string; plan: string }) {
  const { event } = await events.emit({ event: "user.signup", payload: user });
  return event.id;
}

export function onOnboardingSteps(events: EventsClient, email: string, steps: number[]) {
  // Callback style works too.
  return new Promise<number>((resolve, reject) => {
    events.emitBatch(
      steps.map((step) => ({ event: "page.completed", resource: "onboarding_sequence", payload: { email, sequence_step: step } })),
      {},
      (error, result) => (error ? reject(error) : resolve(result!.count)),
    );
  });
}

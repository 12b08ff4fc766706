// The example page's script: an onboarding checklist that emits one event per completed step
// and one when the user finishes, and then leaves the page at once. `@meshwork/events` batches
// the events and, when the page is hidden or left, sends what is queued with
// `fetch(…, { keepalive: true })`, so the last events of the session arrive.
import { createClient } from "@meshwork/events";

const params = new URLSearchParams(location.search);
const endpoint = params.get("endpoint") ?? "http://127.0.0.1:8787";
const publishableKey = params.get("key") ?? "mw_pub_browser_example_0123456789";
const session = params.get("session") ?? crypto.randomUUID();

const meshwork = createClient({
  publishableKey, // publishable: it only names the workspace and can ingest, so it may ship in a page
  endpoint,
  flushAt: 10, // a batch of 10 goes at once…
  flushIntervalMs: Number(params.get("interval") ?? 2000), // …a partial one after 2 s, or when the page is hidden or left
});

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let step = 0;
let emitted = 0;
let acknowledged = 0;
const show = () => {
  $("step").textContent = String(step);
  $("counts").textContent = `${emitted} emitted, ${acknowledged} acknowledged by the server`;
};
meshwork.on("delivered", () => {
  acknowledged++;
  show();
});
meshwork.on("failed", ({ error }) => {
  $("error").textContent = `An event could not be sent: ${error.message}`;
});

$("next").addEventListener("click", () => {
  step++;
  emitted++;
  // Fire and forget: the promise never rejects unhandled.
  void meshwork.emit({ event: "onboarding.step_completed", resource: "onboarding", resource_id: session, payload: { session, step } });
  show();
});

// A plain link: the browser leaves the page right after this handler, with the event still queued.
$("finish").addEventListener("click", () => {
  emitted++;
  void meshwork.emit({ event: "onboarding.finished", resource: "onboarding", resource_id: session, payload: { session, steps: step } });
});

show();

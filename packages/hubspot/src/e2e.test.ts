// End to end through @meshwork/rules: page.completed events fan out to sandbox HubSpot and
// ActiveCampaign connections, run the real adapters against their simulators, and a replayed
// event (new id, same content) leaves no duplicates behind.
import { activecampaign, createActiveCampaignSimulator, type ActiveCampaignSimulator } from "@meshwork/activecampaign";
import type { Destination, Simulator } from "@meshwork/destination-kit";
import { createEngine, createTestClock, defineConfig, type Engine } from "@meshwork/rules";
import { afterEach, describe, expect, it } from "vitest";
import { createHubspotSimulator, hubspot, type HubspotSimulator } from "./index.js";

const KEY = "mw_pub_acme_staging_0123456789";
const WORKSPACE = "acme-staging";
const onboarding = { workspace: WORKSPACE, event: "page.completed", resource: "onboarding_sequence" } as const;
const firstName = (dest: string) => ({
  schema_version: 1 as const,
  fields: [{ dest, source: { type: "path" as const, value: "first_name" }, on_error: "skip_field" as const }],
});

const config = defineConfig({
  workspaces: [{ id: WORKSPACE, name: "Acme (staging)", environment: "staging", publishableKeys: [KEY] }],
  connections: [
    { id: "acme-hubspot", workspace: WORKSPACE, type: "hubspot", name: "HubSpot", mode: "sandbox", credentials: { accessToken: "pat-na1-sandbox-0000" } },
    {
      id: "acme-ac",
      workspace: WORKSPACE,
      type: "activecampaign",
      name: "ActiveCampaign",
      mode: "sandbox",
      credentials: { api_url: "https://acme.api-us1.com", api_key: "sandbox-ac-key-0000" },
    },
  ],
  rules: [
    { id: "hs-sync", ...onboarding, connection: "acme-hubspot", metadata: { action: "sync_contact" }, mapping: firstName("firstname") },
    { id: "hs-step", ...onboarding, connection: "acme-hubspot", metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" } },
    { id: "hs-list", ...onboarding, connection: "acme-hubspot", metadata: { action: "add_to_list", id: "7" } },
    { id: "ac-sync", ...onboarding, connection: "acme-ac", metadata: { action: "sync_contact" }, mapping: firstName("firstName") },
    { id: "ac-tag", ...onboarding, connection: "acme-ac", metadata: { action: "add_tag", id: "14" } },
  ],
});

const RULES = ["ac-sync", "ac-tag", "hs-list", "hs-step", "hs-sync"];
const page = (id: string, payload: Record<string, unknown>) => ({
  id,
  event: "page.completed",
  resource: "onboarding_sequence",
  resource_id: "workspace-setup",
  payload,
});
const newContact = { email: "alex@northstar.io", first_name: "Alex", user_id: "usr_5012", sequence_step: 3 };
const existingContact = { email: "sam@northstar.io", user_id: "usr_4410", sequence_step: 2 };

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop();
  engine = undefined;
});

/** The real destinations, their sandbox simulators on the engine's test clock (rate-limit windows move with it). */
function setup() {
  const clock = createTestClock({ now: Date.parse("2026-11-26T12:00:00Z") });
  const now = () => clock.now();
  const withSandbox = (destination: Destination, sandbox: () => Simulator): Destination => ({ ...destination, sandbox });
  engine = createEngine({
    config,
    clock,
    destinations: [
      withSandbox(hubspot(), () => createHubspotSimulator({ now })),
      withSandbox(activecampaign(), () => createActiveCampaignSimulator({ now })),
    ],
  });
  const hs = engine.sandbox("acme-hubspot") as HubspotSimulator;
  hs.seedContact({ email: "sam@northstar.io", firstname: "Sam", lifecyclestage: "customer" });
  hs.seedList({ listId: "7", name: "Onboarding" });
  const ac = engine.sandbox("acme-ac") as ActiveCampaignSimulator;
  ac.seedTag({ id: "14", tag: "onboarding-next-step" });
  ac.seedContact({ email: "sam@northstar.io", firstName: "Sam" });
  return { engine, hs, ac };
}

async function deliveries(engine: Engine, eventId: string) {
  const detail = await engine.events.get(eventId);
  return Object.fromEntries((detail?.deliveries ?? []).map((d) => [d.rule_id, { status: d.status, last_error: d.last_error }]));
}

const completed = Object.fromEntries(RULES.map((rule) => [rule, { status: "completed", last_error: null }]));
const byEmail = <T extends { email?: string; properties?: { email?: string } }>(items: T[]) =>
  [...items].sort((a, b) => (a.email ?? a.properties?.email ?? "").localeCompare(b.email ?? b.properties?.email ?? ""));

describe("page.completed through the engine to sandbox HubSpot and ActiveCampaign", () => {
  it("syncs a new and an existing contact, and a replayed event adds nothing twice", async () => {
    const { engine, hs, ac } = setup();
    await engine.start();

    const ingested = await engine.ingest([page("evt_new", newContact), page("evt_existing", existingContact)], { publishableKey: KEY });
    expect(ingested.count).toBe(2);
    await engine.drain({ advanceClock: true, timeoutMs: 15_000 });

    expect(await deliveries(engine, "evt_new")).toEqual(completed);
    expect(await deliveries(engine, "evt_existing")).toEqual(completed);

    // HubSpot: the new contact created once (three rules raced to create it), the existing one
    // updated in place, the onboarding property set, both on the list.
    const hubspotAfter = hs.snapshot();
    expect(byEmail(hubspotAfter.contacts).map((c) => c.properties)).toEqual([
      { email: "alex@northstar.io", firstname: "Alex", onboarding_step: "3" },
      { email: "sam@northstar.io", firstname: "Sam", lifecyclestage: "customer", onboarding_step: "2" },
    ]);
    expect(hubspotAfter.lists).toEqual([
      { listId: "7", name: "Onboarding", processingType: "MANUAL", members: expect.arrayContaining(["alex@northstar.io", "sam@northstar.io"]) },
    ]);
    expect(hubspotAfter.lists[0]!.members).toHaveLength(2);

    // ActiveCampaign: contacts synced (the new one with its mapped first name), the next-step tag added once each.
    const acAfter = ac.snapshot();
    expect(byEmail(acAfter.contacts).map(({ email, firstName, tags }) => ({ email, firstName, tags }))).toEqual([
      { email: "alex@northstar.io", firstName: "Alex", tags: ["onboarding-next-step"] },
      { email: "sam@northstar.io", firstName: "Sam", tags: ["onboarding-next-step"] },
    ]);

    // The same event again under a new id: delivered again, but nothing is duplicated.
    const tagPostsBefore = ac.requests.filter((r) => r.method === "POST" && r.url.endsWith("/contactTags")).length;
    await engine.ingest([page("evt_new_again", newContact)], { publishableKey: KEY });
    await engine.drain({ advanceClock: true, timeoutMs: 15_000 });
    expect(await deliveries(engine, "evt_new_again")).toEqual(completed);

    expect(hs.snapshot()).toEqual(hubspotAfter);
    expect(ac.snapshot()).toEqual(acAfter);
    expect(ac.requests.filter((r) => r.method === "POST" && r.url.endsWith("/contactTags")).length).toBe(tagPostsBefore);
    const tagAttempts = await engine.attempts.list("evt_new_again", "ac-tag");
    expect(tagAttempts.at(-1)).toMatchObject({ outcome: "delivered" });
    expect(JSON.stringify(tagAttempts.at(-1))).toContain("already has tag 14");

    // Nothing a sandbox connection recorded leaks a credential.
    for (const id of ["evt_new", "evt_existing", "evt_new_again"]) {
      for (const rule of RULES) {
        const recorded = JSON.stringify(await engine.attempts.list(id, rule));
        expect(recorded).not.toContain("pat-na1-sandbox-0000");
        expect(recorded).not.toContain("sandbox-ac-key-0000");
      }
    }
  });

  it("an event id seen before makes no new deliveries", async () => {
    const { engine, hs } = setup();
    await engine.start();
    await engine.ingest([page("evt_once", newContact)], { publishableKey: KEY });
    await engine.drain({ advanceClock: true, timeoutMs: 15_000 });
    const requests = hs.requests.length;
    await engine.ingest([page("evt_once", newContact)], { publishableKey: KEY });
    await engine.drain({ advanceClock: true, timeoutMs: 15_000 });
    expect(hs.requests.length).toBe(requests);
    expect(await deliveries(engine, "evt_once")).toEqual(completed);
  });
});

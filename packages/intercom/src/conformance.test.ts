import { testDestination } from "@meshwork/destination-kit/testing";
import { expect } from "vitest";
import { intercom, type IntercomSimulator } from "./index.js";

testDestination<IntercomSimulator>(intercom(), {
  credentials: { accessToken: "dG9rOmNvbmZvcm1hbmNlLXRva2Vu", region: "eu" },
  seed: (simulator) => {
    simulator.addTag({ id: "7522907", name: "Onboarded" });
    simulator.addTag({ id: "7522908", name: "Trial" });
    simulator.addContact({ email: "alex@northstar.io", role: "user", created_at: 1734537421, tags: ["7522908"] });
  },
  actions: {
    add_tag: {
      metadata: { id: "7522907" },
      check: (simulator, result) => {
        expect(simulator.snapshot().contacts).toEqual([
          expect.objectContaining({ email: "alex@northstar.io", role: "user", tags: ["Trial", "Onboarded"] }),
        ]);
        expect(simulator.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
          "POST https://api.eu.intercom.io/contacts/search",
          expect.stringMatching(/^POST https:\/\/api\.eu\.intercom\.io\/contacts\/\w+\/tags$/),
        ]);
        expect(result.message).toMatch(/tag "Onboarded" \(7522907\) added to contact/);
      },
    },
    remove_tag: {
      metadata: { id: "7522908" },
      check: (simulator) => {
        expect(simulator.snapshot().contacts[0]?.tags).toEqual([]);
      },
    },
    track_event: {
      metadata: { event_name: "completed-onboarding-step" },
      payload: { plan: { name: "pro" } },
      check: (simulator) => {
        expect(simulator.snapshot().events).toEqual([
          {
            event_name: "completed-onboarding-step",
            created_at: Date.parse("2026-11-26T12:00:00.000Z") / 1000,
            contact_id: expect.any(String),
            email: "alex@northstar.io",
            metadata: { sequence_step: 3, plan_name: "pro" },
          },
        ]);
      },
    },
  },
});

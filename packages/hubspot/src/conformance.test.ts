import { testDestination } from "@meshwork/destination-kit/testing";
import { describe, expect } from "vitest";
import { hubspot, type HubspotSimulator } from "./index.js";

const seed = (simulator: HubspotSimulator) => {
  simulator.seedContact({ email: "alex@northstar.io", firstname: "Alex", lifecyclestage: "subscriber" });
  simulator.seedList({ listId: "7", name: "Onboarding" });
  simulator.seedList({ listId: "8", name: "Trial", members: ["alex@northstar.io"] });
};

const contact = (simulator: HubspotSimulator, email: string) =>
  simulator.snapshot().contacts.find((c) => c.properties.email === email);
const list = (simulator: HubspotSimulator, listId: string) => simulator.snapshot().lists.find((l) => l.listId === listId);

const actions = {
  sync_contact: {
    // The rule mapping names the contact: a new one, created.
    metadata: { properties: { lifecyclestage: "lead", onboarding_step: "{{sequence_step}}" } },
    mapped: { email: "jordan@northstar.io", firstname: "Jordan" },
    check: (simulator: HubspotSimulator) => {
      expect(contact(simulator, "jordan@northstar.io")?.properties).toEqual({
        email: "jordan@northstar.io",
        firstname: "Jordan",
        lifecyclestage: "lead",
        onboarding_step: "3",
      });
      expect(simulator.snapshot().contacts).toHaveLength(2);
    },
  },
  add_to_list: {
    metadata: { id: "7" },
    check: (simulator: HubspotSimulator) => {
      expect(list(simulator, "7")?.members).toEqual(["alex@northstar.io"]);
    },
  },
  remove_from_list: {
    metadata: { id: "8" },
    check: (simulator: HubspotSimulator) => {
      expect(list(simulator, "8")?.members).toEqual([]);
    },
  },
  update_property: {
    metadata: { id: "onboarding_step", value: "{{sequence_step}}" },
    check: (simulator: HubspotSimulator) => {
      expect(contact(simulator, "alex@northstar.io")?.properties).toMatchObject({ onboarding_step: "3", firstname: "Alex" });
    },
  },
};

testDestination<HubspotSimulator>(hubspot(), {
  credentials: { accessToken: "pat-na1-0b6f3a52-9d8e-4c1b-a7f2-5e4d3c2b1a09" },
  seed,
  actions,
});

describe("with OAuth credentials whose access token has expired", () => {
  testDestination<HubspotSimulator>(hubspot(), {
    credentials: {
      accessToken: "CJSP5qf1KhICAQEYs-gDIIGOBii1_oxyMQ-expired",
      refreshToken: "6f18f21e-a743-4509-b7fd-1a5e632fffa1",
      clientId: "5fd5e4a8-0c3b-4a5e-9a0b-2f1b2ad0e6c2",
      clientSecret: "8a1f6e2c-7d4b-4c93-b6a5-0e9f1d2c3b4a",
      expiresAt: "2026-01-01T00:00:00Z",
    },
    seed,
    actions,
  });
});

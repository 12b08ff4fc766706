import { testDestination } from "@meshwork/destination-kit/testing";
import { expect } from "vitest";
import { activecampaign, type ActiveCampaignSimulator } from "./index.js";

const contact = (simulator: ActiveCampaignSimulator, email: string) =>
  simulator.snapshot().contacts.find((c) => c.email === email);

testDestination<ActiveCampaignSimulator>(activecampaign(), {
  credentials: {
    api_url: "https://northstar.api-us1.com",
    api_key: "4f7c2b9e1d0a8f6e5c3b2a1908f7e6d5c4b3a2910f8e7d6c5b4a39281f0e9d8c7b6a5f4e",
  },
  seed: (simulator) => {
    simulator.seedField({ id: "5", title: "Plan" });
    simulator.seedList({ id: "3", name: "Onboarding" });
    simulator.seedList({ id: "4", name: "Trial" });
    simulator.seedTag({ id: "11", tag: "next-step" });
    simulator.seedTag({ id: "12", tag: "trial" });
    simulator.seedContact({ email: "alex@northstar.io", firstName: "Alex", lists: { "4": 1 }, tags: ["12"] });
  },
  actions: {
    sync_contact: {
      metadata: { fields: { "5": "pro" } },
      mapped: { email: "jordan@northstar.io", firstName: "Jordan", lastName: "Lee" },
      check: (simulator) => {
        expect(contact(simulator, "jordan@northstar.io")).toMatchObject({
          firstName: "Jordan",
          lastName: "Lee",
          fields: { "5": "pro" },
          lists: [],
          tags: [],
        });
        expect(simulator.snapshot().contacts).toHaveLength(2);
      },
    },
    add_to_list: {
      metadata: { id: "3" },
      check: (simulator) => {
        expect(contact(simulator, "alex@northstar.io")?.lists).toEqual([
          { id: "4", name: "Trial", status: "active" },
          { id: "3", name: "Onboarding", status: "active" },
        ]);
      },
    },
    remove_from_list: {
      metadata: { id: "4" },
      check: (simulator) => {
        expect(contact(simulator, "alex@northstar.io")?.lists).toEqual([{ id: "4", name: "Trial", status: "unsubscribed" }]);
      },
    },
    add_tag: {
      metadata: { id: "11" },
      check: (simulator) => {
        expect(contact(simulator, "alex@northstar.io")?.tags).toEqual(["trial", "next-step"]);
      },
    },
    remove_tag: {
      metadata: { id: "12" },
      check: (simulator) => {
        expect(contact(simulator, "alex@northstar.io")?.tags).toEqual([]);
        // The tag itself still exists for everyone else.
        expect(simulator.snapshot().tags).toContainEqual({ id: "12", tag: "trial" });
        expect(simulator.requests.some((r) => r.method === "DELETE" && r.url.includes("/tags/"))).toBe(false);
      },
    },
  },
});

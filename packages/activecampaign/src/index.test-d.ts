import type { Destination } from "@meshwork/destination-kit";
import { describe, expectTypeOf, it } from "vitest";
import {
  activecampaign,
  createActiveCampaignSimulator,
  type ActiveCampaignCredentials,
  type ActiveCampaignOptions,
  type ActiveCampaignSnapshot,
} from "./index.js";

describe("@meshwork/activecampaign types", () => {
  it("the factory takes the destination options", () => {
    expectTypeOf(activecampaign).parameter(0).toEqualTypeOf<ActiveCampaignOptions | undefined>();
    expectTypeOf(activecampaign()).toExtend<Destination>();
  });

  it("declares the five Meshes actions", () => {
    expectTypeOf<keyof ReturnType<typeof activecampaign>["actions"]>().toEqualTypeOf<
      "sync_contact" | "add_to_list" | "remove_from_list" | "add_tag" | "remove_tag"
    >();
  });

  it("credentials use the Meshes names", () => {
    expectTypeOf<ActiveCampaignCredentials>().toEqualTypeOf<{ api_url: string; api_key: string }>();
  });

  it("the simulator is typed", () => {
    const sim = createActiveCampaignSimulator();
    expectTypeOf(sim.snapshot()).toEqualTypeOf<ActiveCampaignSnapshot>();
    expectTypeOf(sim.snapshot().contacts[0]!.lists[0]!.status).toEqualTypeOf<"active" | "unsubscribed">();
    expectTypeOf(sim.seedTag).returns.toEqualTypeOf<string>();
  });
});

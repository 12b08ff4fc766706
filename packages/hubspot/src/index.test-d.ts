import type { Destination } from "@meshwork/destination-kit";
import { describe, expectTypeOf, it } from "vitest";
import { createHubspotSimulator, hubspot, type HubspotCredentials, type HubspotOptions, type HubspotSnapshot } from "./index.js";

describe("@meshwork/hubspot types", () => {
  it("the factory takes the destination options plus the portal's time zone", () => {
    expectTypeOf(hubspot).parameter(0).toEqualTypeOf<HubspotOptions | undefined>();
    expectTypeOf<HubspotOptions>().toHaveProperty("portalTimeZone").toEqualTypeOf<string | undefined>();
    expectTypeOf<HubspotOptions>().toHaveProperty("baseUrl").toEqualTypeOf<string | undefined>();
    expectTypeOf(hubspot()).toExtend<Destination>();
  });

  it("declares the four Meshes actions", () => {
    expectTypeOf<keyof ReturnType<typeof hubspot>["actions"]>().toEqualTypeOf<
      "sync_contact" | "add_to_list" | "remove_from_list" | "update_property"
    >();
  });

  it("credentials are a private-app token or an OAuth grant with a normalised expiry", () => {
    expectTypeOf<HubspotCredentials["accessToken"]>().toEqualTypeOf<string>();
    expectTypeOf<HubspotCredentials["refreshToken"]>().toEqualTypeOf<string | undefined>();
    expectTypeOf<HubspotCredentials["expiresAt"]>().toEqualTypeOf<number | undefined>();
  });

  it("the simulator is typed", () => {
    const sim = createHubspotSimulator();
    expectTypeOf(sim.snapshot()).toEqualTypeOf<HubspotSnapshot>();
    expectTypeOf(sim.seedContact).returns.toEqualTypeOf<string>();
    expectTypeOf(sim.seedList).returns.toEqualTypeOf<string>();
    expectTypeOf(sim.issuedTokens).toEqualTypeOf<readonly string[]>();
  });
});

import { describe, expectTypeOf, it } from "vitest";
import { createIntercomSimulator, intercom, type IntercomCredentials, type IntercomOptions, type IntercomSnapshot } from "./index.js";

describe("@meshwork/intercom types", () => {
  it("the factory takes the destination options plus version and simulator", () => {
    expectTypeOf(intercom).parameter(0).toEqualTypeOf<IntercomOptions | undefined>();
    expectTypeOf<IntercomOptions>().toHaveProperty("version").toEqualTypeOf<string | undefined>();
    expectTypeOf<IntercomOptions>().toHaveProperty("baseUrl").toEqualTypeOf<string | undefined>();
  });

  it("credentials name one of Intercom's regions", () => {
    expectTypeOf<IntercomCredentials["region"]>().toEqualTypeOf<"us" | "eu" | "au" | undefined>();
    // @ts-expect-error there is no "de" region
    const credentials: IntercomCredentials = { accessToken: "token", region: "de" };
    void credentials;
  });

  it("the simulator snapshot is typed", () => {
    expectTypeOf(createIntercomSimulator().snapshot()).toEqualTypeOf<IntercomSnapshot>();
    expectTypeOf(createIntercomSimulator().addContact).returns.toEqualTypeOf<string>();
  });
});

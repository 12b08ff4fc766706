import { describe, expectTypeOf, it } from "vitest";
import { createSlackSimulator, slack, type SlackCredentials, type SlackOptions, type SlackSnapshot } from "./index.js";

describe("@meshwork/slack types", () => {
  it("the factory takes the destination options plus a simulator", () => {
    expectTypeOf(slack).parameter(0).toEqualTypeOf<SlackOptions | undefined>();
  });

  it("credentials are a bot token or a webhook URL", () => {
    expectTypeOf<{ botToken: string }>().toExtend<SlackCredentials>();
    expectTypeOf<{ webhookUrl: string }>().toExtend<SlackCredentials>();
    // @ts-expect-error one of the two is required
    const none: SlackCredentials = {};
    void none;
  });

  it("the simulator snapshot is typed", () => {
    expectTypeOf(createSlackSimulator().snapshot()).toEqualTypeOf<SlackSnapshot>();
  });
});

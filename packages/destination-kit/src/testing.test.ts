import { expect } from "vitest";
import { acme } from "./__fixtures__/acme.js";
import { testDestination } from "./testing.js";

testDestination(acme(), {
  credentials: { token: "acme-secret-token" },
  actions: {
    add_note: {
      metadata: { text: "step {{sequence_step}}", contact: "{{email}}" },
      check: (simulator) => {
        expect(simulator.snapshot()).toEqual({ notes: [{ text: "step 3", contact: "alex@northstar.io" }] });
      },
    },
  },
});

import { testDestination } from "@meshwork/destination-kit/testing";
import { expect } from "vitest";
import { SECRET_B, VECTOR } from "./__fixtures__/deliveries.js";
import { verifyWebhook, webhook, type WebhookSimulator } from "./index.js";

const secrets = [VECTOR.secret, SECRET_B];

testDestination<WebhookSimulator>(webhook(), {
  credentials: { url: "https://hooks.northstar.io/meshwork/inbound", secrets },
  actions: {
    send_webhook: {
      metadata: {},
      check: (simulator, result) => {
        const [request] = simulator.requests;
        expect(request).toMatchObject({ method: "POST", url: "https://hooks.northstar.io/meshwork/inbound" });
        const verified = verifyWebhook(secrets, request!.body, request!.headers);
        expect(verified.id).toBe("del_conformance_send_webhook");
        expect(verified.payload).toMatchObject({ id: "evt_conformance_send_webhook", type: "page.completed" });
        const { deliveries } = simulator.snapshot();
        expect(deliveries).toEqual([
          expect.objectContaining({ id: "del_conformance_send_webhook", verified: true, received: 1 }),
        ]);
        expect(result.message).toBe("webhook del_conformance_send_webhook delivered to hooks.northstar.io (200)");
      },
    },
  },
});

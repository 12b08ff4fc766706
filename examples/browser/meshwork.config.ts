// `meshwork serve --config examples/browser/meshwork.config.ts --memory` for the browser example:
// one workspace whose publishable key the page uses, and a sandbox webhook that receives every
// onboarding event (sandbox: nothing leaves the machine).
import type { ConfigModule } from "@meshwork/server";

export const PUBLISHABLE_KEY = "mw_pub_browser_example_0123456789";

const module: ConfigModule = {
  config: {
    workspaces: [{ id: "browser-demo", name: "Browser demo", environment: "development", publishableKeys: [PUBLISHABLE_KEY] }],
    connections: [
      {
        id: "demo-hook",
        workspace: "browser-demo",
        type: "webhook",
        name: "Onboarding webhook (sandbox)",
        mode: "sandbox",
        credentials: { url: "https://hooks.example.test/onboarding", secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] },
      },
    ],
    rules: [
      { id: "step-hook", workspace: "browser-demo", connection: "demo-hook", event: "onboarding.step_completed", metadata: { action: "send_webhook" } },
      { id: "finished-hook", workspace: "browser-demo", connection: "demo-hook", event: "onboarding.finished", metadata: { action: "send_webhook" } },
    ],
    // For `meshwork events list` and the dashboard at http://127.0.0.1:8787/. A demo secret: use your own anywhere else.
    accessKeys: [{ accessKey: "mk_browser_demo", secretKey: "sk_browser_demo_not_a_secret", workspaces: ["browser-demo"] }],
  },
  server: {
    // The page is served from another origin (the example's static server); list it, or keep the default "*".
    cors: { origin: ["http://127.0.0.1:5173", "http://localhost:5173"] },
  },
};

export default module;

import { defineDestination } from "@meshwork/destination-kit";
import { addToList } from "./actions/add-to-list.js";
import { removeFromList } from "./actions/remove-from-list.js";
import { syncContact } from "./actions/sync-contact.js";
import { updateProperty } from "./actions/update-property.js";
import { currentAccessToken } from "./auth.js";
import { assertTimeZone, createHubspotClassifier, createRateLimitHeaderReader } from "./classify.js";
import { DEFAULT_RATE_LIMIT, HUBSPOT_API_URL } from "./constants.js";
import { hubspotCredentials } from "./credentials.js";
import { createHubspotSimulator } from "./simulator.js";
import type { HubspotOptions } from "./types.js";

/**
 * The HubSpot destination: `sync_contact`, `add_to_list`, `remove_from_list` and
 * `update_property` on contacts found by email, with private-app or OAuth credentials (OAuth
 * tokens are refreshed per connection), HubSpot's rate-limit policies and a sandbox simulator.
 *
 * @example
 * import { createEngine, defineConfig } from "@meshwork/rules";
 * import { hubspot } from "@meshwork/hubspot";
 *
 * const engine = createEngine({ config: defineConfig({ workspaces, connections, rules }), destinations: [hubspot()] });
 * // rule: { id: "onboarding-step", workspace: "acme-prod", connection: "acme-hubspot", event: "page.completed",
 * //         metadata: { action: "update_property", id: "onboarding_step", value: "{{sequence_step}}" } }
 */
export function hubspot(options: HubspotOptions = {}) {
  const timeZone = options.portalTimeZone ?? "UTC";
  assertTimeZone(timeZone);
  return defineDestination({
    type: "hubspot",
    name: "HubSpot",
    options,
    credentials: hubspotCredentials,
    baseUrl: HUBSPOT_API_URL,
    headers: (credentials, state) => ({ authorization: `Bearer ${currentAccessToken(credentials, state)}` }),
    rateLimit: { ...DEFAULT_RATE_LIMIT },
    classify: createHubspotClassifier(timeZone),
    rateLimitHeaders: createRateLimitHeaderReader(timeZone),
    actions: {
      sync_contact: syncContact,
      add_to_list: addToList,
      remove_from_list: removeFromList,
      update_property: updateProperty,
    },
    sandbox: () => createHubspotSimulator(),
  });
}

export { createHubspotSimulator } from "./simulator.js";
export { hubspotCredentials } from "./credentials.js";
export { CRM_PATH, HUBSPOT_API_URL } from "./constants.js";
export type * from "./types.js";

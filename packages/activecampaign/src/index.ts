import { defineDestination } from "@meshwork/destination-kit";
import { addTag } from "./actions/add-tag.js";
import { addToList } from "./actions/add-to-list.js";
import { removeFromList } from "./actions/remove-from-list.js";
import { removeTag } from "./actions/remove-tag.js";
import { syncContact } from "./actions/sync-contact.js";
import { classifyActiveCampaign } from "./classify.js";
import { API_PATH, DEFAULT_RATE_LIMIT } from "./constants.js";
import { activecampaignCredentials } from "./credentials.js";
import { createActiveCampaignSimulator } from "./simulator.js";
import type { ActiveCampaignOptions } from "./types.js";

/**
 * The ActiveCampaign destination: `sync_contact`, `add_to_list`, `remove_from_list`, `add_tag` and
 * `remove_tag` on contacts found by email, through `{api_url}/api/3` with the `Api-Token` header,
 * at ActiveCampaign's 5 requests per second, with a sandbox simulator.
 *
 * @example
 * import { createEngine, defineConfig } from "@meshwork/rules";
 * import { activecampaign } from "@meshwork/activecampaign";
 *
 * const engine = createEngine({ config: defineConfig({ workspaces, connections, rules }), destinations: [activecampaign()] });
 * // rule: { id: "next-step-tag", workspace: "acme-prod", connection: "acme-ac", event: "page.completed",
 * //         metadata: { action: "add_tag", id: "14" } }
 */
export function activecampaign(options: ActiveCampaignOptions = {}) {
  return defineDestination({
    type: "activecampaign",
    name: "ActiveCampaign",
    options,
    credentials: activecampaignCredentials,
    baseUrl: (credentials) => `${credentials.api_url}${API_PATH}`,
    headers: (credentials) => ({ "api-token": credentials.api_key }),
    rateLimit: { ...DEFAULT_RATE_LIMIT },
    classify: classifyActiveCampaign,
    actions: {
      sync_contact: syncContact,
      add_to_list: addToList,
      remove_from_list: removeFromList,
      add_tag: addTag,
      remove_tag: removeTag,
    },
    sandbox: () => createActiveCampaignSimulator(),
  });
}

export { createActiveCampaignSimulator } from "./simulator.js";
export { activecampaignCredentials } from "./credentials.js";
export type * from "./types.js";

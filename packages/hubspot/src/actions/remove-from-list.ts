import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, createHubspotClient } from "../client.js";
import { CRM_PATH } from "../constants.js";
import type { HubspotCredentials } from "../types.js";
import type { MembershipChange } from "./add-to-list.js";
import { listId } from "./schema.js";

const metadata = z.object({
  /** The MANUAL or SNAPSHOT list's v3 (ILS) id. */
  id: listId,
});

/**
 * `remove_from_list`: looks the contact up by email; no contact means nothing to remove (delivered,
 * saying so). Otherwise `PUT /lists/{id}/memberships/remove` with `["<record id>"]`.
 */
export const removeFromList = defineAction<typeof metadata, HubspotCredentials>({
  description: "Remove the contact (by email) from a static list; no contact is nothing to do",
  metadata,
  async perform(context) {
    const email = contactEmail(context);
    const hubspot = createHubspotClient(context);
    const listId = context.metadata.id;
    const contact = await hubspot.findContact(email);
    if (!contact) return { summary: `no HubSpot contact has this email; nothing to remove from list ${listId}` };

    const { data } = await hubspot.call<MembershipChange>(`${CRM_PATH}/lists/${listId}/memberships/remove`, {
      method: "PUT",
      body: [String(contact.id)],
    });
    return data.recordIdsRemoved?.includes(String(contact.id))
      ? { summary: `contact ${contact.id} removed from list ${listId}` }
      : { summary: `contact ${contact.id} was not in list ${listId}; nothing removed` };
  },
});

import { defineAction, RetryableError } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, createHubspotClient } from "../client.js";
import { CRM_PATH } from "../constants.js";
import type { HubspotCredentials } from "../types.js";
import { listId } from "./schema.js";

const metadata = z.object({
  /** The MANUAL or SNAPSHOT list's v3 (ILS) id. */
  id: listId,
});

/** HubSpot's membership-change answer (it spells `recordsIdsAdded` that way). */
export interface MembershipChange {
  recordIdsMissing?: string[];
  recordIdsRemoved?: string[];
  recordsIdsAdded?: string[];
}

/**
 * `add_to_list`: finds the contact by email (creating it when missing), then
 * `PUT /lists/{id}/memberships/add` with `["<record id>"]`. Already a member is delivered too.
 */
export const addToList = defineAction<typeof metadata, HubspotCredentials>({
  description: "Add the contact (by email, created if missing) to a static list",
  metadata,
  async perform(context) {
    const email = contactEmail(context);
    const hubspot = createHubspotClient(context);
    const contact = await hubspot.ensureContact(email);
    const listId = context.metadata.id;

    const { data } = await hubspot.call<MembershipChange>(`${CRM_PATH}/lists/${listId}/memberships/add`, {
      method: "PUT",
      body: [contact.id],
    });
    if (data.recordIdsMissing?.includes(contact.id)) {
      // A contact created a moment ago may not be visible to the lists service yet.
      throw new RetryableError(`HubSpot list ${listId} does not see contact ${contact.id} yet (recordIdsMissing); will retry`);
    }
    const created = contact.created ? "created and " : "";
    return data.recordsIdsAdded?.includes(contact.id)
      ? { summary: `contact ${contact.id} ${created}added to list ${listId}` }
      : { summary: `contact ${contact.id} ${created}already in list ${listId}` };
  },
});

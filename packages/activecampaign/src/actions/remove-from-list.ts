import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, findContactId } from "../client.js";
import type { ActiveCampaignCredentials } from "../types.js";
import { numericId } from "./schema.js";

const metadata = z.object({ id: numericId("list") });

/**
 * `remove_from_list`: `GET /contacts?email=` (none → nothing to do), then `POST /contactLists` with
 * status 2 (unsubscribed); ActiveCampaign has no delete of a membership. A 404 is nothing to do.
 */
export const removeFromList = defineAction<typeof metadata, ActiveCampaignCredentials>({
  description: "Unsubscribe the contact (by email) from a list; no contact is nothing to do",
  metadata,
  async perform(context) {
    const list = context.metadata.id;
    const contact = await findContactId(context.request, contactEmail(context));
    if (!contact) return { summary: `no ActiveCampaign contact has this email; nothing to remove from list ${list}` };
    const response = await context.request("/contactLists", {
      method: "POST",
      body: { contactList: { list, contact, status: 2 } },
      accept: [404],
    });
    if (response.status === 404) return { summary: `list ${list} or contact ${contact} not found (404); nothing to remove` };
    return { summary: `contact ${contact} unsubscribed from list ${list}` };
  },
});

import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, contactTags, findContactId } from "../client.js";
import type { ActiveCampaignCredentials } from "../types.js";
import { numericId } from "./schema.js";

const metadata = z.object({ id: numericId("tag") });

/**
 * `remove_tag`: `GET /contacts?email=` → `GET /contacts/{id}/contactTags` → `DELETE /contactTags/{association id}`.
 * Never `DELETE /tags/{id}`, which would delete the tag for every contact. Nothing to remove is delivered.
 */
export const removeTag = defineAction<typeof metadata, ActiveCampaignCredentials>({
  description: "Remove a tag from the contact (by email); a missing contact or tag is nothing to do",
  metadata,
  async perform(context) {
    const tag = context.metadata.id;
    const contact = await findContactId(context.request, contactEmail(context));
    if (!contact) return { summary: `no ActiveCampaign contact has this email; nothing to untag` };
    const association = (await contactTags(context.request, contact))?.find((t) => t.tag === tag);
    if (!association) return { summary: `contact ${contact} does not have tag ${tag}; nothing to remove` };

    const response = await context.request(`/contactTags/${association.id}`, { method: "DELETE", accept: [404] });
    if (response.status === 404) return { summary: `association ${association.id} was already gone; nothing to remove` };
    return { summary: `tag ${tag} removed from contact ${contact} (association ${association.id} deleted)` };
  },
});

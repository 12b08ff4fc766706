import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { describeIntercomError } from "../classify.js";
import { contactEmail, searchContact } from "../contacts.js";
import type { IntercomCredentials } from "../types.js";
import { tagIdSchema } from "./add-tag.js";

/**
 * `remove_tag`: finds the contact by email and removes the tag `metadata.id` from it. No contact, or
 * a contact without the tag, is nothing to do and counts as delivered.
 */
export const removeTag = defineAction<z.ZodObject<{ id: typeof tagIdSchema }>, IntercomCredentials>({
  description: "Remove an Intercom tag from the contact (by email); nothing to do when there is no such contact",
  metadata: z.object({ id: tagIdSchema }),
  async perform({ payload, mapped, metadata, request }) {
    const email = contactEmail(payload, mapped);
    const contact = await searchContact(request, email);
    if (!contact) return { summary: `no Intercom contact with email ${email}; nothing to remove` };

    const { status, data } = await request(
      `/contacts/${encodeURIComponent(contact.id)}/tags/${encodeURIComponent(metadata.id)}`,
      { method: "DELETE", accept: [404] },
    );
    if (status === 404) {
      const detail = describeIntercomError(data);
      return {
        summary: `tag ${metadata.id} is not on contact ${contact.id} (${email})${detail ? ` — Intercom: ${detail}` : ""}; nothing to remove`,
      };
    }
    return { summary: `tag ${metadata.id} removed from contact ${contact.id} (${email})` };
  },
});

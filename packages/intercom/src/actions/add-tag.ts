import { defineAction, PermanentError, RetryableError } from "@meshwork/destination-kit";
import { describeIntercomError } from "../classify.js";
import { z } from "zod";
import { contactEmail, findOrCreateContact } from "../contacts.js";
import type { IntercomCredentials } from "../types.js";

/** A tag id in rule metadata; `"{{tag}}"` may render to a number. */
export const tagIdSchema = z
  .union([z.string().trim().min(1, "the Intercom tag id is required"), z.number().int()])
  .transform(String);

interface IntercomTag {
  type: "tag";
  id: string;
  name: string;
}

/**
 * `add_tag`: finds the contact by email (creating it as a user when there is none) and applies the
 * tag whose id is `metadata.id`.
 */
export const addTag = defineAction<z.ZodObject<{ id: typeof tagIdSchema }>, IntercomCredentials>({
  description: "Tag the contact (by email) with an Intercom tag, creating the contact as a user if needed",
  metadata: z.object({ id: tagIdSchema }),
  async perform({ payload, mapped, metadata, request }) {
    const email = contactEmail(payload, mapped);
    const { contact, created } = await findOrCreateContact(request, email);
    const { status, data: tag } = await request<IntercomTag>(`/contacts/${encodeURIComponent(contact.id)}/tags`, {
      method: "POST",
      body: { id: metadata.id },
      accept: [404],
    });
    if (status === 404) {
      const detail = describeIntercomError(tag) ?? "not found";
      throw new PermanentError(
        `Intercom could not tag contact ${contact.id} with tag ${metadata.id} (${detail}): check that the rule's ` +
          "metadata.id is the id of an existing tag (Intercom → Settings → Tags, or GET /tags)",
        { status },
      );
    }
    if (tag?.type !== "tag") throw new RetryableError("Intercom answered the tag request without the documented tag object");
    return {
      summary: `tag "${tag.name}" (${tag.id}) added to ${created ? "new " : ""}contact ${contact.id} (${email})`,
    };
  },
});

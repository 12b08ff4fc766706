import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, contactTags, syncContact } from "../client.js";
import type { ActiveCampaignCredentials } from "../types.js";
import { numericId } from "./schema.js";

const metadata = z.object({ id: numericId("tag") });

interface CreatedContactTag {
  contactTag?: { id?: string | number };
}

/**
 * `add_tag`: the contact's id via `contact/sync`, its current tags via
 * `GET /contacts/{id}/contactTags`, and `POST /contactTags` only when the tag is not there yet, so a
 * replayed event never creates a second association.
 */
export const addTag = defineAction<typeof metadata, ActiveCampaignCredentials>({
  description: "Tag the contact (by email, created if missing); an existing tag is left as it is",
  metadata,
  async perform(context) {
    const contact = await syncContact(context.request, { email: contactEmail(context) });
    const tag = context.metadata.id;
    const existing = (await contactTags(context.request, contact))?.find((t) => t.tag === tag);
    if (existing) return { summary: `contact ${contact} already has tag ${tag} (association ${existing.id}); nothing added` };

    const { data } = await context.request<CreatedContactTag>("/contactTags", {
      method: "POST",
      body: { contactTag: { contact, tag } },
    });
    return { summary: `tag ${tag} added to contact ${contact} (association ${data.contactTag?.id ?? "?"})` };
  },
});

import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, syncContact } from "../client.js";
import type { ActiveCampaignCredentials } from "../types.js";
import { numericId } from "./schema.js";

const metadata = z.object({ id: numericId("list") });

/** `add_to_list`: the contact's id via `contact/sync` (created if missing), then `POST /contactLists` with status 1. */
export const addToList = defineAction<typeof metadata, ActiveCampaignCredentials>({
  description: "Subscribe the contact (by email, created if missing) to a list",
  metadata,
  async perform(context) {
    const contact = await syncContact(context.request, { email: contactEmail(context) });
    const list = context.metadata.id;
    await context.request("/contactLists", { method: "POST", body: { contactList: { list, contact, status: 1 } } });
    return { summary: `contact ${contact} subscribed to list ${list}` };
  },
});

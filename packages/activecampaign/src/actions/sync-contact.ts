import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, contactFields, syncContact as sync, toFieldValue } from "../client.js";
import type { ActiveCampaignCredentials } from "../types.js";
import { fieldValue } from "./schema.js";

const metadata = z.object({
  /** Custom field values by field id, e.g. `{ "12": "{{plan}}" }`; the rule mapping can add more. */
  fields: z
    .record(z.string(), fieldValue)
    .superRefine((fields, ctx) => {
      for (const id of Object.keys(fields)) {
        if (!/^\d+$/.test(id)) ctx.addIssue({ code: "custom", path: [id], message: "custom fields go by numeric field id (GET /api/3/fields)" });
      }
    })
    .optional(),
});

/**
 * `sync_contact`: `POST /contact/sync` (create or update by email) with firstName, lastName and
 * phone from the mapping or the payload, and `fieldValues` from `metadata.fields` and the mapping.
 */
export const syncContact = defineAction<typeof metadata, ActiveCampaignCredentials>({
  description: "Create or update the contact (by email) with its name, phone and custom field values",
  metadata,
  async perform(context) {
    const email = contactEmail(context);
    const { standard, custom } = contactFields(context, context.log);
    const values: Record<string, string> = {};
    for (const [id, value] of Object.entries(context.metadata.fields ?? {})) values[id] = toFieldValue(`fields.${id}`, value);
    Object.assign(values, custom);
    const fieldValues = Object.entries(values).map(([field, value]) => ({ field, value }));

    const id = await sync(context.request, { email, ...standard, ...(fieldValues.length > 0 && { fieldValues }) });
    const what = [...Object.keys(standard), ...(fieldValues.length ? [`${fieldValues.length} custom field(s)`] : [])];
    return { summary: `contact ${id} synced${what.length ? ` (${what.join(", ")})` : ""}` };
  },
});

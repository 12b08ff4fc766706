import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactByEmailPath, contactEmail, createHubspotClient, toProperties } from "../client.js";
import { CRM_PATH } from "../constants.js";
import type { HubspotCredentials } from "../types.js";
import { names, propertyValue } from "./schema.js";

const metadata = z.object({
  /** Contact properties by internal name, e.g. `{ lifecyclestage: "lead" }`; templates allowed. */
  properties: z.record(z.string().min(1), propertyValue).optional(),
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);

/**
 * `sync_contact`: update-then-create by email. `PATCH /contacts/{email}?idProperty=email`; on 404
 * `POST /contacts`; on a 409 race ("Existing ID: N") `PATCH /contacts/N`. Properties come from
 * `metadata.properties` and the rule mapping, flat (`dest: "firstname"`) or nested
 * (`dest: "properties.firstname"`); the mapping wins on a clash.
 */
export const syncContact = defineAction<typeof metadata, HubspotCredentials>({
  description: "Create or update the contact (by email) with properties from the rule and its mapping",
  metadata,
  async perform(context) {
    const email = contactEmail(context);
    const { properties: nested, ...flat } = context.mapped ?? {};
    const properties = {
      ...toProperties(context.metadata.properties ?? {}),
      ...toProperties(flat),
      ...(isRecord(nested) ? toProperties(nested) : toProperties({ properties: nested })),
      email,
    };
    const set = names(Object.keys(properties));
    const hubspot = createHubspotClient(context);

    const updated = await hubspot.call<{ id: string }>(contactByEmailPath(email), {
      method: "PATCH",
      query: { idProperty: "email" },
      body: { properties },
      accept: [404],
    });
    if (updated.status !== 404) return { summary: `contact ${updated.data.id} updated (${set})` };

    const created = await hubspot.createContact(properties);
    if (created.created) return { summary: `contact ${created.id} created (${set})` };

    await hubspot.call(`${CRM_PATH}/objects/contacts/${created.id}`, { method: "PATCH", body: { properties } });
    return { summary: `contact ${created.id} updated (${set}); it was created concurrently` };
  },
});

import { defineAction } from "@meshwork/destination-kit";
import { z } from "zod";
import { contactEmail, createHubspotClient, toPropertyValue } from "../client.js";
import { CRM_PATH } from "../constants.js";
import type { HubspotCredentials } from "../types.js";
import { propertyValue } from "./schema.js";

const metadata = z.object({
  /** The property's internal name, e.g. `onboarding_step` or `lifecyclestage`. */
  id: z.string().trim().min(1, "must name the HubSpot property (its internal name)"),
  /** The value; `{{templates}}` are rendered from the payload first. `null` clears the property. */
  value: propertyValue,
});

/**
 * `update_property`: finds the contact by email (creating it with the value when missing), then
 * `PATCH /contacts/{id}` with `{ properties: { [id]: value } }`.
 */
export const updateProperty = defineAction<typeof metadata, HubspotCredentials>({
  description: "Set one property of the contact (by email, created if missing)",
  metadata,
  async perform(context) {
    const email = contactEmail(context);
    const name = context.metadata.id;
    const value = toPropertyValue(name, context.metadata.value);
    const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
    const hubspot = createHubspotClient(context);

    const found = await hubspot.findContact(email);
    if (!found) {
      const created = await hubspot.createContact({ email, [name]: value });
      if (created.created) return { summary: `contact ${created.id} created with ${name} = "${shown}"` };
      return patch(created.id);
    }
    return patch(String(found.id));

    async function patch(id: string) {
      await hubspot.call(`${CRM_PATH}/objects/contacts/${id}`, { method: "PATCH", body: { properties: { [name]: value } } });
      return { summary: `contact ${id}: ${name} set to "${shown}"` };
    }
  },
});

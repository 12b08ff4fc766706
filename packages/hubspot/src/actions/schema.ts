import { z } from "zod";

/** A property value in rule metadata; `null` clears the property. */
export const propertyValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

/** A v3 (ILS) list id: digits, given as a string or a number. */
export const listId = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((value) => String(value).trim())
  .pipe(z.string().regex(/^\d+$/, "must be the numeric list id HubSpot shows in the list's URL (the ILS list id)"));

/** Up to a few names, for attempt summaries. */
export function names(values: string[], limit = 5): string {
  return values.length <= limit ? values.join(", ") : `${values.slice(0, limit).join(", ")} and ${values.length - limit} more`;
}

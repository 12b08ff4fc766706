import { z } from "zod";

/** A numeric ActiveCampaign id (list, tag, field), given as a string or a number. */
export const numericId = (what: string) =>
  z
    .union([z.string(), z.number().int().nonnegative()])
    .transform((value) => String(value).trim())
    .pipe(z.string().regex(/^\d+$/, `must be the numeric ${what} id shown in ActiveCampaign (or GET /api/3/${what}s)`));

/** A field value in rule metadata; `null` clears the field. */
export const fieldValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

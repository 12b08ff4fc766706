import { z } from "zod";

const expiresAt = z
  .union([z.number().finite(), z.string().min(1)])
  .transform((value, ctx) => {
    // Epoch milliseconds, epoch seconds (values below 1e12) or an ISO date.
    const ms = typeof value === "number" ? (value < 1e12 ? value * 1000 : value) : Date.parse(value);
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: "custom", message: "must be epoch milliseconds or an ISO date" });
      return z.NEVER;
    }
    return ms;
  });

/**
 * HubSpot connection credentials: a private-app token `{ accessToken }`, or an OAuth grant
 * `{ accessToken, refreshToken, clientId, clientSecret, expiresAt? }` that is refreshed on expiry.
 */
export const hubspotCredentials = z
  .object({
    accessToken: z.string().min(1, "the HubSpot access token is required"),
    refreshToken: z.string().min(1).optional(),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    expiresAt: expiresAt.optional(),
  })
  .superRefine((credentials, ctx) => {
    const oauth = ["refreshToken", "clientId", "clientSecret"] as const;
    const given = oauth.filter((key) => credentials[key] !== undefined);
    if (given.length === 0 || given.length === oauth.length) return;
    for (const key of oauth.filter((k) => credentials[k] === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `required for OAuth connections (${given.join(", ")} given); a private-app token needs only accessToken`,
      });
    }
  });

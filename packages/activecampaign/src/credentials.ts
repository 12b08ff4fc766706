import { z } from "zod";
import { API_PATH } from "./constants.js";

const EXAMPLE = "https://ACCOUNT.api-us1.com";

/**
 * ActiveCampaign connection credentials: `api_url` (Settings → Developer, like
 * `https://ACCOUNT.api-us1.com`; an `/api/3` suffix is accepted) and `api_key`.
 * The URL must be https: the key travels in a header on every request.
 */
export const activecampaignCredentials = z.object({
  api_url: z
    .string()
    .trim()
    .transform((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: "custom", message: `must be your account's API URL, like ${EXAMPLE}` });
        return z.NEVER;
      }
      if (url.protocol !== "https:") {
        ctx.addIssue({ code: "custom", message: `must be an https URL, like ${EXAMPLE}` });
        return z.NEVER;
      }
      if (url.username || url.password || url.search || url.hash) {
        ctx.addIssue({ code: "custom", message: `must be a bare account URL without credentials, query or fragment, like ${EXAMPLE}` });
        return z.NEVER;
      }
      const path = url.pathname.replace(/\/+$/, "");
      return `${url.origin}${path.endsWith(API_PATH) ? path.slice(0, -API_PATH.length) : path}`;
    }),
  api_key: z.string().trim().min(1, "the ActiveCampaign API key is required (Settings → Developer)"),
});

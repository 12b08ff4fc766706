import { defineDestination, parseStandardRateLimitHeaders } from "@meshwork/destination-kit";
import { z } from "zod";
import { addTag } from "./actions/add-tag.js";
import { removeTag } from "./actions/remove-tag.js";
import { trackEvent } from "./actions/track-event.js";
import { classifyIntercomResponse } from "./classify.js";
import { createIntercomSimulator } from "./simulator.js";
import type { IntercomOptions, IntercomRegion } from "./types.js";

/** The `Intercom-Version` sent unless the factory is given another (the current REST API version). */
export const DEFAULT_INTERCOM_VERSION = "2.15";

/** The API base URL of each Intercom region. */
export const INTERCOM_BASE_URLS: Readonly<Record<IntercomRegion, string>> = Object.freeze({
  us: "https://api.intercom.io",
  eu: "https://api.eu.intercom.io",
  au: "https://api.au.intercom.io",
});

const credentials = z.object({
  accessToken: z.string().trim().min(1, "the Intercom access token is required"),
  region: z.enum(["us", "eu", "au"]).optional(),
});

/**
 * The Intercom destination: `add_tag`, `remove_tag` and `track_event` on contacts found by email.
 * The default budget is Intercom's 10,000 calls per minute per app, enforced in 10-second windows.
 *
 * @example
 * import { intercom } from "@meshwork/intercom";
 * const engine = createEngine({ config, destinations: [intercom()] });
 * // connection credentials: { accessToken: env("INTERCOM_TOKEN"), region: "eu" }
 * // rule metadata: { action: "add_tag", id: "7522907" }
 */
export const intercom = (options: IntercomOptions = {}) => {
  const { version = DEFAULT_INTERCOM_VERSION, simulator, ...destinationOptions } = options;
  return defineDestination({
    type: "intercom",
    name: "Intercom",
    options: destinationOptions,
    credentials,
    baseUrl: (credentials) => INTERCOM_BASE_URLS[credentials.region ?? "us"],
    headers: (credentials) => ({
      authorization: `Bearer ${credentials.accessToken}`,
      accept: "application/json",
      "content-type": "application/json",
      "intercom-version": version,
    }),
    rateLimit: { requests: 1666, perMs: 10_000 },
    rateLimitHeaders: parseStandardRateLimitHeaders,
    classify: classifyIntercomResponse,
    redactCredentials: (credentials) => [credentials.accessToken],
    actions: { add_tag: addTag, remove_tag: removeTag, track_event: trackEvent },
    sandbox: () => simulator ?? createIntercomSimulator(),
  });
};

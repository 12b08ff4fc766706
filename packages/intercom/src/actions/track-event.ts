import { defineAction, MappingError, PermanentError, RetryableError } from "@meshwork/destination-kit";
import { z } from "zod";
import { describeIntercomError } from "../classify.js";
import { flattenEventMetadata, INTERCOM_METADATA_LIMIT } from "../event-metadata.js";
import type { IntercomCredentials } from "../types.js";

const trackEventMetadata = z.object({
  event_name: z.string().trim().min(1).optional(),
  event_metadata: z.record(z.string(), z.unknown()).optional(),
});

/** Fields that identify the contact; they are sent beside the event, not in its metadata. */
const IDENTITY_KEYS = new Set(["email", "user_id"]);

/**
 * `track_event`: submits an Intercom data event for the contact, identified by `email` (or by
 * `user_id` when there is no email), timed at the Meshwork event's `created_at`.
 */
export const trackEvent = defineAction<typeof trackEventMetadata, IntercomCredentials>({
  description: "Submit an Intercom data event for the contact (by email, else user_id) with flattened metadata",
  metadata: trackEventMetadata,
  async perform({ event, payload, mapped, metadata, request, log }) {
    const source = mapped ?? payload;
    const identity = identify(source);
    const createdAt = Math.floor(Date.parse(event.created_at) / 1000);
    if (!Number.isFinite(createdAt)) throw new MappingError(`event created_at "${event.created_at}" is not a date`);

    const raw = metadata.event_metadata ?? Object.fromEntries(Object.entries(source).filter(([key]) => !IDENTITY_KEYS.has(key)));
    const { metadata: flat, cut, dropped } = flattenEventMetadata(raw);
    if (dropped.length > 0) log.info(`metadata keys without a value were left out: ${dropped.join(", ")}`);
    if (cut.length > 0) {
      log.warn(
        `event metadata has ${INTERCOM_METADATA_LIMIT + cut.length} keys and Intercom keeps ${INTERCOM_METADATA_LIMIT}; ` +
          `not sent: ${cut.join(", ")} (choose the fields with the rule's event_metadata or a field mapping)`,
      );
    }

    const eventName = metadata.event_name ?? event.event;
    const body = {
      event_name: eventName,
      created_at: createdAt,
      ...identity,
      ...(Object.keys(flat).length > 0 && { metadata: flat }),
    };
    const { status, data } = await request("/events", { method: "POST", body, responseType: "none", accept: [404] });
    const who = "email" in identity ? `email ${identity.email}` : `user_id ${identity.user_id}`;
    if (status === 404) {
      const detail = describeIntercomError(data);
      throw new PermanentError(
        `Intercom has no user with ${who}${detail ? ` (${detail})` : ""}: data events go to existing users, so ` +
          "create the contact first (an add_tag rule does) or send a user_id Intercom knows, then retry the delivery",
        { status },
      );
    }
    if (typeof data === "string" && data.trim() && !data.trimStart().startsWith("{")) {
      throw new RetryableError(`Intercom answered POST /events with ${status} and a body that is not the documented empty 202`, {
        status,
      });
    }
    const keys = Object.keys(flat).length;
    return { summary: `event "${eventName}" tracked for ${who} with ${keys} metadata key${keys === 1 ? "" : "s"}` };
  },
});

function identify(source: Record<string, unknown>): { email: string } | { user_id: string } {
  if (typeof source.email === "string" && source.email.trim()) return { email: source.email.trim() };
  const userId = source.user_id;
  if ((typeof userId === "string" && userId.trim()) || typeof userId === "number") return { user_id: String(userId).trim() };
  throw new MappingError(
    "the event has neither `email` nor `user_id` to identify the Intercom user: add one to the payload or map a field to it",
  );
}

import type { Destination } from "@meshwork/destination-kit";
import { activecampaign } from "@meshwork/activecampaign";
import { hubspot } from "@meshwork/hubspot";
import { intercom } from "@meshwork/intercom";
import { slack } from "@meshwork/slack";
import { webhook } from "@meshwork/webhook";
import type { BuiltInDestinationOptions } from "./types.js";

/**
 * The destinations `meshwork serve` registers: HubSpot, ActiveCampaign, Intercom, Slack and
 * signed webhooks, each built with its options from `options`.
 *
 * @example
 * builtInDestinations({ webhook: { allowedHosts: ["receiver.internal"] } });
 */
export function builtInDestinations(options: BuiltInDestinationOptions = {}): Destination[] {
  return [
    hubspot(options.hubspot) as unknown as Destination,
    activecampaign(options.activecampaign) as unknown as Destination,
    intercom(options.intercom) as unknown as Destination,
    slack(options.slack) as unknown as Destination,
    webhook(options.webhook) as unknown as Destination,
  ];
}

/** The built-ins (unless turned off) with `extra` added; an extra destination replaces a built-in of its type. */
export function resolveDestinations(extra: readonly Destination[] = [], options: BuiltInDestinationOptions = {}, includeBuiltIns = true): Destination[] {
  const byType = new Map<string, Destination>();
  if (includeBuiltIns) for (const d of builtInDestinations(options)) byType.set(d.type, d);
  for (const d of extra) byType.set(d.type, d);
  return [...byType.values()];
}

import type { DestinationOptions, Simulator } from "@meshwork/destination-kit";
import type { z } from "zod";
import type { activecampaignCredentials } from "./credentials.js";

/** Credentials of an ActiveCampaign connection, as validated (`api_url` normalised, no trailing `/api/3`). */
export type ActiveCampaignCredentials = z.output<typeof activecampaignCredentials>;

/** Options of the `activecampaign()` factory. */
export type ActiveCampaignOptions = DestinationOptions;

/** A scalar value as rule metadata may carry it. */
export type ActiveCampaignFieldValue = string | number | boolean | null;

/** What `createActiveCampaignSimulator()` can be configured with. */
export interface ActiveCampaignSimulatorOptions {
  /** API keys the simulator accepts. Default: any non-empty key not starting with `invalid`. */
  apiKeys?: string[];
  /**
   * How a refused key is answered: `"403"` (default, the documented answer) or `"html-login"`,
   * HTTP 200 with an HTML login page, as some accounts have been seen to do.
   */
  badKeyResponse?: "403" | "html-login";
  /** Requests allowed per window before 429 with `Retry-After` (default 5 per 1000 ms). */
  rateLimit?: { max: number; intervalMs: number };
  /** The simulator's clock (default `Date.now`). */
  now?: () => number;
}

/** A contact to seed: its lists by list id → status (1 active, 2 unsubscribed), its tags by tag id. */
export interface ActiveCampaignSeedContact {
  email: string;
  firstName?: string;
  lastName?: string;
  phone?: string;
  /** Custom field values by field id. */
  fields?: Record<string, string>;
  lists?: Record<string, 1 | 2>;
  tags?: string[];
}

/** A contact as `snapshot()` shows it. */
export interface ActiveCampaignSnapshotContact {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  phone: string;
  /** Custom field values by field id. */
  fields: Record<string, string>;
  lists: Array<{ id: string; name: string; status: "active" | "unsubscribed" }>;
  /** One entry per contactTag association, by tag name (a duplicate association would show twice). */
  tags: string[];
}

/** What `ActiveCampaignSimulator.snapshot()` returns. */
export interface ActiveCampaignSnapshot {
  contacts: ActiveCampaignSnapshotContact[];
  lists: Array<{ id: string; name: string }>;
  tags: Array<{ id: string; tag: string }>;
}

/** The ActiveCampaign sandbox: contacts, custom fields, lists with membership statuses, tags and contactTags. */
export interface ActiveCampaignSimulator extends Simulator<ActiveCampaignSnapshot> {
  /** Adds a contact; returns its id. */
  seedContact(contact: ActiveCampaignSeedContact): string;
  /** Adds a list; returns its id. */
  seedList(list: { name: string; id?: string }): string;
  /** Adds a contact tag; returns its id. */
  seedTag(tag: { tag: string; id?: string; description?: string }): string;
  /** Adds a custom contact field; returns its id. */
  seedField(field: { title: string; id?: string; type?: string; perstag?: string }): string;
}

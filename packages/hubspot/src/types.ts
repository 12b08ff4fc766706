import type { DestinationOptions, Simulator } from "@meshwork/destination-kit";
import type { z } from "zod";
import type { hubspotCredentials } from "./credentials.js";

/** Credentials of a HubSpot connection, as validated (OAuth `expiresAt` normalised to epoch ms). */
export type HubspotCredentials = z.output<typeof hubspotCredentials>;

/** Options of the `hubspot()` factory. */
export interface HubspotOptions extends DestinationOptions {
  /**
   * IANA time zone of the HubSpot portal (default `"UTC"`). HubSpot resets the daily API limit
   * at midnight in the portal's zone and sends no header naming it, so a `DAILY` 429 waits
   * until the next midnight in this zone.
   */
  portalTimeZone?: string;
}

/** A scalar value as rule metadata may carry it. */
export type HubspotPropertyValue = string | number | boolean | null;

/** A contact property's definition, as the simulator models `GET /crm/v3/properties/contacts/{name}`. */
export interface HubspotPropertyDefinition {
  /** Internal name, e.g. `lifecyclestage`. */
  name: string;
  label?: string;
  type: "string" | "number" | "enumeration" | "date" | "datetime" | "bool";
  fieldType?: string;
  /** Allowed values of an enumeration. */
  options?: Array<{ label: string; value: string }>;
}

/** What `createHubspotSimulator()` can be configured with. */
export interface HubspotSimulatorOptions {
  /** Access tokens the simulator accepts. Default: any non-empty token not starting with `invalid`. */
  tokens?: string[];
  /**
   * OAuth apps allowed to refresh tokens. Default: any client, and any refresh token not starting
   * with `invalid`.
   */
  oauthClients?: Array<{ clientId: string; clientSecret: string; refreshToken: string }>;
  /** Lifetime of the access tokens the simulator issues, seconds (HubSpot: 1800). */
  tokenLifetimeSeconds?: number;
  /** The rolling window: `max` requests per `intervalMs` (default 100 per 10 000 ms). */
  rateLimit?: { max: number; intervalMs: number };
  /** Requests allowed per day before 429 `DAILY` (default 250 000). */
  dailyLimit?: number;
  /** Extra contact property definitions, added to the defaults (or replacing one of the same name). */
  properties?: HubspotPropertyDefinition[];
  /** The simulator's clock (default `Date.now`). */
  now?: () => number;
}

/** A contact as the simulator holds it: user-set properties only, values as strings. */
export interface HubspotSnapshotContact {
  id: string;
  properties: Record<string, string>;
}

/** A list as the simulator holds it, members by email (record id when a member has none). */
export interface HubspotSnapshotList {
  listId: string;
  name: string;
  processingType: "MANUAL" | "SNAPSHOT" | "DYNAMIC";
  members: string[];
}

/** What `HubspotSimulator.snapshot()` returns. */
export interface HubspotSnapshot {
  contacts: HubspotSnapshotContact[];
  lists: HubspotSnapshotList[];
}

/** The HubSpot sandbox: an in-memory CRM (contacts, properties, lists, tokens, rate limits). */
export interface HubspotSimulator extends Simulator<HubspotSnapshot> {
  /** Adds a contact; returns its record id. */
  seedContact(properties: Record<string, HubspotPropertyValue>): string;
  /** Adds a list; returns its list id. */
  seedList(list: { name: string; listId?: string; processingType?: HubspotSnapshotList["processingType"]; members?: string[] }): string;
  /** Adds or replaces a contact property definition (e.g. make `onboarding_step` an enumeration). */
  defineProperty(definition: HubspotPropertyDefinition): void;
  /** Makes an access token answer 401 `EXPIRED_AUTHENTICATION` from now on. */
  expireToken(token: string): void;
  /** Access tokens issued by `POST /oauth/v1/token`, oldest first. */
  readonly issuedTokens: readonly string[];
}

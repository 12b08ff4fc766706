import type { DestinationOptions, Simulator } from "@meshwork/destination-kit";

/** Where the Intercom workspace is hosted; picks the API base URL. */
export type IntercomRegion = "us" | "eu" | "au";

/** Connection credentials of an Intercom connection. */
export interface IntercomCredentials {
  /** An access token (private app) or OAuth token; they do not expire until revoked. */
  accessToken: string;
  /** `us` (default) → `api.intercom.io`, `eu` → `api.eu.intercom.io`, `au` → `api.au.intercom.io`. */
  region?: IntercomRegion;
}

/** Options of the `intercom()` factory. */
export interface IntercomOptions extends DestinationOptions {
  /** The `Intercom-Version` header sent with every request (default {@link DEFAULT_INTERCOM_VERSION}). */
  version?: string;
  /** The simulator sandbox connections use; default: a fresh `createIntercomSimulator()` each time. */
  simulator?: IntercomSimulator;
}

/** Rule metadata of `add_tag` and `remove_tag`. */
export interface IntercomTagMetadata {
  /** The Intercom tag id. */
  id: string;
}

/** Rule metadata of `track_event`. */
export interface IntercomTrackEventMetadata {
  /** The Intercom event name; defaults to the Meshwork event's name (e.g. `page.completed`). */
  event_name?: string;
  /** Explicit event metadata; default: the mapped fields, else the payload (minus `email`/`user_id`). */
  event_metadata?: Record<string, unknown>;
}

/** A tag as the simulator keeps it. */
export interface IntercomTagSeed {
  id: string;
  name: string;
}

/** A contact to seed into the simulator. */
export interface IntercomContactSeed {
  email: string;
  role?: "user" | "lead";
  /** Unix seconds; default: the simulator's clock. */
  created_at?: number;
  external_id?: string;
  /** Tag ids already applied. */
  tags?: string[];
  /** The contact stays out of search results for this many searches (Intercom's indexing lag). */
  hiddenForSearches?: number;
}

/** Options of `createIntercomSimulator`. */
export interface IntercomSimulatorOptions {
  /** Access tokens the simulator accepts; default: any non-empty bearer token. */
  accessTokens?: string[];
  tags?: IntercomTagSeed[];
  contacts?: IntercomContactSeed[];
  /** Contacts created through the API stay out of search results for this many searches (default 0). */
  searchLag?: number;
  /**
   * Answer 404 for tag ids the simulator does not know, as Intercom does. Off by default so a sandbox
   * connection can run production rules whose tag ids only exist in the live workspace: unknown
   * tags are then created on first use, named `Tag <id>`.
   */
  strictTags?: boolean;
  /** Clock in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

/** A contact in a simulator snapshot. */
export interface IntercomSnapshotContact {
  id: string;
  role: "user" | "lead";
  email: string;
  external_id: string | null;
  created_at: number;
  /** Names of the tags applied, in the order they were applied. */
  tags: string[];
}

/** A data event the simulator accepted. */
export interface IntercomSnapshotEvent {
  event_name: string;
  created_at: number;
  contact_id: string;
  email?: string;
  user_id?: string;
  metadata?: Record<string, unknown>;
}

/** What an Intercom simulator holds. */
export interface IntercomSnapshot {
  contacts: IntercomSnapshotContact[];
  tags: IntercomTagSeed[];
  events: IntercomSnapshotEvent[];
}

/** The in-memory Intercom API used by sandbox connections and tests. */
export interface IntercomSimulator extends Simulator<IntercomSnapshot> {
  /** Adds a contact as if it had been created in Intercom; returns its id. */
  addContact(seed: IntercomContactSeed): string;
  addTag(tag: IntercomTagSeed): void;
  /** Later requests with this token answer 401 `token_revoked`. */
  revokeToken(token: string): void;
}

/** HubSpot's public API host. */
export const HUBSPOT_API_URL = "https://api.hubapi.com";

/**
 * The versioned CRM path prefix. HubSpot retires the `v3`-style paths in September 2027 in
 * favour of date-versioned ones (`/crm/objects/2026-03/…`); this is the one place to change.
 */
export const CRM_PATH = "/crm/v3";

/** Where OAuth access tokens are refreshed (form-encoded POST). */
export const OAUTH_TOKEN_PATH = "/oauth/v1/token";

/** HubSpot's documented default for OAuth apps: 100 requests per rolling 10 seconds per portal. */
export const DEFAULT_RATE_LIMIT = { requests: 100, perMs: 10_000 } as const;

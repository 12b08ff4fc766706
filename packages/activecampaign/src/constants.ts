/** The API version path under the account's `api_url`. */
export const API_PATH = "/api/3";

/** ActiveCampaign's documented limit: 5 requests per second per account, shared by all keys. */
export const DEFAULT_RATE_LIMIT = { requests: 5, perMs: 1000 } as const;

/** The API version path under the account's `api_url`. */
export const API_PATH = "/api/3";

/** ActiveCampaign's documented limit: 5 requests per second per account, shared by all keys. */
/**
 * ActiveCampaign allows 5 requests per second per account. We pace at 5 per 1.2 s: the vendor
 * counts a request when it arrives and we count it when it leaves, so pacing at exactly the limit
 * meets 429s at the edge of each window.
 */
export const DEFAULT_RATE_LIMIT = { requests: 5, perMs: 1200 } as const;

import { AuthError, PermanentError, vendorMessage, type ConnectionState, type RequestClient } from "@meshwork/destination-kit";
import { OAUTH_TOKEN_PATH } from "./constants.js";
import type { HubspotCredentials } from "./types.js";

/** Key of the refreshed OAuth token in the connection's state. */
export const TOKEN_STATE_KEY = "hubspot.oauth";
/** Refresh this long before the recorded expiry, so a request never leaves with a dying token. */
const EXPIRY_SKEW_MS = 60_000;

/** The refreshed token kept per connection; `issuedFor` ties it to the credentials it came from. */
interface StoredToken {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  issuedFor: string;
}

type OAuthCredentials = HubspotCredentials & { refreshToken: string; clientId: string; clientSecret: string };

/** A 401 `EXPIRED_AUTHENTICATION`: the one auth failure a refresh can fix. */
export class TokenExpiredError extends AuthError {}

export function isOAuth(credentials: HubspotCredentials): credentials is OAuthCredentials {
  return credentials.refreshToken !== undefined && credentials.clientId !== undefined && credentials.clientSecret !== undefined;
}

function stored(credentials: HubspotCredentials, state: ConnectionState): StoredToken | undefined {
  const token = state.get<StoredToken>(TOKEN_STATE_KEY);
  // A token refreshed from older credentials (the connection was reconnected since) is ignored.
  return token && token.issuedFor === credentials.accessToken ? token : undefined;
}

/** The access token to send: the connection's refreshed one when there is one, else the credential. */
export function currentAccessToken(credentials: HubspotCredentials, state: ConnectionState): string {
  return stored(credentials, state)?.accessToken ?? credentials.accessToken;
}

/** True when the OAuth token is known to be expired (or about to be). */
export function tokenExpired(credentials: HubspotCredentials, state: ConnectionState, now: number): boolean {
  if (!isOAuth(credentials)) return false;
  const expiresAt = stored(credentials, state)?.expiresAt ?? credentials.expiresAt;
  return expiresAt !== undefined && expiresAt - EXPIRY_SKEW_MS <= now;
}

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
}

/** Refresh statuses HubSpot answers (400) for a grant that can no longer be used. */
const DEAD_GRANT = /^(BAD_REFRESH_TOKEN|BAD_CLIENT_ID|BAD_CLIENT_SECRET|BAD_GRANT_TYPE|INVALID_GRANT|EXPIRED_REFRESH_TOKEN)$/i;

// One refresh in flight per connection: concurrent deliveries that find the token expired share it.
const inflight = new WeakMap<ConnectionState, Promise<string>>();

/**
 * Exchanges the refresh token for a new access token (`POST /oauth/v1/token`, form-encoded) and
 * keeps it in the connection's state, never in module scope, so tokens never cross connections.
 */
export function refreshAccessToken(context: {
  credentials: HubspotCredentials;
  state: ConnectionState;
  request: RequestClient;
  now: () => number;
}): Promise<string> {
  let pending = inflight.get(context.state);
  if (!pending) {
    pending = doRefresh(context).finally(() => inflight.delete(context.state));
    inflight.set(context.state, pending);
  }
  return pending;
}

async function doRefresh({
  credentials,
  state,
  request,
  now,
}: {
  credentials: HubspotCredentials;
  state: ConnectionState;
  request: RequestClient;
  now: () => number;
}): Promise<string> {
  if (!isOAuth(credentials)) throw new AuthError("HubSpot access token expired and the connection has no refresh token");
  const refreshToken = stored(credentials, state)?.refreshToken ?? credentials.refreshToken;
  const response = await request<TokenResponse>(OAUTH_TOKEN_PATH, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded;charset=utf-8" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
    }),
    accept: [400, 401],
  });
  const data = response.data;
  if (response.status !== 200 || typeof data?.access_token !== "string") {
    const status = (data as { status?: unknown } | undefined)?.status;
    const why = vendorMessage(data) ?? `status ${response.status}`;
    if (response.status === 401 || (typeof status === "string" && DEAD_GRANT.test(status))) {
      throw new AuthError(`HubSpot refused to refresh the OAuth token (${why}); reconnect HubSpot`, { status: response.status });
    }
    throw new PermanentError(`HubSpot token refresh was rejected (${why})`, { status: response.status });
  }
  const token: StoredToken = {
    accessToken: data.access_token,
    refreshToken: data.refresh_token ?? refreshToken,
    expiresAt: now() + (data.expires_in ?? 1800) * 1000,
    issuedFor: credentials.accessToken,
  };
  state.set(TOKEN_STATE_KEY, token);
  return token.accessToken;
}

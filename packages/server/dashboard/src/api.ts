// The signed-in session: the access key and a non-extractable HMAC key, tokens minted per
// request (reused for up to 20 s of their 30 s), the server's clock offset, and JSON requests.
import { canSign, importSecret, mintToken } from "./token.js";
import type { Workspace } from "./types.js";

const STORAGE_KEY = "meshwork.dashboard.credentials";
const TOKEN_LIFETIME_S = 30;
const TOKEN_REUSE_MS = 20_000;

/** A failed request: the server's `message` and `error` code, and the HTTP status. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

export class Session {
  /** Server time minus browser time, ms, when they differ by more than 2 s. */
  private skewMs = 0;
  private token: { value: string; mintedAt: number } | undefined;

  constructor(
    private readonly accessKey: string,
    private readonly key: CryptoKey,
    private readonly onExpired: (message: string) => void,
  ) {}

  private async bearer(): Promise<string> {
    const now = Date.now();
    if (this.token && now - this.token.mintedAt < TOKEN_REUSE_MS) return this.token.value;
    const value = await mintToken(this.accessKey, this.key, now + this.skewMs, TOKEN_LIFETIME_S);
    this.token = { value, mintedAt: now };
    return value;
  }

  private observeClock(response: Response): void {
    const date = Date.parse(response.headers.get("date") ?? "");
    if (!Number.isFinite(date)) return;
    const skew = date + 500 - Date.now();
    const changed = Math.abs(skew - this.skewMs) > 2000;
    if (changed) {
      this.skewMs = Math.abs(skew) > 2000 ? skew : 0;
      this.token = undefined;
    }
  }

  /** Sends a request to `/api/v1<path>` and answers the parsed JSON; throws an `ApiError` otherwise. */
  async request<T>(method: "GET" | "POST", path: string, body?: unknown, retried = false): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.bearer()}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`/api/v1${path}`, { method, headers, cache: "no-store", credentials: "omit", ...(body !== undefined && { body: JSON.stringify(body) }) });
    } catch {
      throw new ApiError("The server cannot be reached.", 0, "network_error");
    }
    this.observeClock(response);
    const text = await response.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      data = undefined;
    }
    if (response.ok) return data as T;
    const message = (data as { message?: string } | undefined)?.message ?? `${response.status} ${response.statusText}`;
    const code = (data as { error?: string } | undefined)?.error ?? "http_error";
    if (response.status === 401) {
      // A clock that drifted makes tokens look expired or issued in the future: retry once with the server's time.
      if (!retried && /expired|future|iat|exp/.test(message)) {
        this.token = undefined;
        return this.request<T>(method, path, body, true);
      }
      this.onExpired(message);
    }
    throw new ApiError(message, response.status, code);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>("POST", path, body);
  }
}

/** The signed-in state: the session and the workspaces the key reaches. */
export interface SignedIn {
  session: Session;
  workspaces: Workspace[];
}

/**
 * Checks the keys against the server (`GET /api/v1/workspaces`) and answers the session. The
 * secret key is imported as a non-extractable key; with `remember`, the keys are also kept in
 * this tab's sessionStorage (gone when the tab closes) so a reload stays signed in.
 */
export async function signIn(accessKey: string, secretKey: string, remember: boolean, onExpired: (message: string) => void): Promise<SignedIn> {
  if (!canSign()) {
    throw new ApiError("This page is not a secure context, so the browser cannot sign tokens. Open the dashboard over https, or on http://localhost / 127.0.0.1 (an SSH tunnel works).", 0, "insecure_context");
  }
  const session = new Session(accessKey.trim(), await importSecret(secretKey), onExpired);
  const list = await session.get<{ records: Workspace[] }>("/workspaces");
  if (remember) sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ accessKey: accessKey.trim(), secretKey }));
  else sessionStorage.removeItem(STORAGE_KEY);
  return { session, workspaces: list.records };
}

/** The keys this tab remembered, if any. */
export function rememberedKeys(): { accessKey: string; secretKey: string } | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as { accessKey?: unknown; secretKey?: unknown } | null;
    if (typeof stored?.accessKey === "string" && typeof stored.secretKey === "string") return { accessKey: stored.accessKey, secretKey: stored.secretKey };
  } catch {
    // Unreadable: treat as signed out.
  }
  return undefined;
}

/** Forgets the keys of this tab. */
export function forgetKeys(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

import {
  MappingError,
  RetryableError,
  type HttpResponse,
  type PerformContext,
  type RequestOptions,
} from "@meshwork/destination-kit";
import { currentAccessToken, isOAuth, refreshAccessToken, tokenExpired, TokenExpiredError } from "./auth.js";
import { CRM_PATH } from "./constants.js";
import type { HubspotCredentials } from "./types.js";

/** A HubSpot contact as the CRM API returns it. */
export interface HubspotContact {
  id: string;
  properties: Record<string, string | null>;
}

/** What the actions use: authenticated calls (with OAuth refresh) and the contact look-ups. */
export interface HubspotClient {
  /** `request` with the current token; refreshes an OAuth token once (on expiry or 401) and retries once. */
  call<T = unknown>(path: string, options?: RequestOptions): Promise<HttpResponse<T>>;
  /** `GET /contacts/{email}?idProperty=email`; undefined when HubSpot has no such contact. */
  findContact(email: string): Promise<HubspotContact | undefined>;
  /** `POST /contacts`; a 409 from a concurrent create resolves to the existing contact's id. */
  createContact(properties: Record<string, string>): Promise<{ id: string; created: boolean }>;
  /** Finds the contact by email or creates it. */
  ensureContact(email: string): Promise<{ id: string; created: boolean }>;
}

/** The path of a contact addressed by email (`?idProperty=email` goes in the query). */
export function contactByEmailPath(email: string): string {
  return `${CRM_PATH}/objects/contacts/${encodeURIComponent(email)}`;
}

/** `"Contact already exists. Existing ID: 512"` → `"512"`. */
export function existingIdFromConflict(body: unknown): string | undefined {
  const message = typeof body === "string" ? body : (body as { message?: unknown } | undefined)?.message;
  return typeof message === "string" ? /Existing ID:\s*(\d+)/i.exec(message)?.[1] : undefined;
}

/** The email a CRM action works on: the rule mapping's `email`, else `payload.email`. */
export function contactEmail(context: { payload: Record<string, unknown>; mapped?: Record<string, unknown> }): string {
  const fromMapping = context.mapped?.email;
  const email = fromMapping ?? context.payload.email;
  const where = fromMapping !== undefined ? "the rule mapping's email" : "payload.email";
  if (typeof email !== "string" || email.trim() === "") {
    throw new MappingError(
      email === undefined
        ? "no contact email: the event has no payload.email and the rule mapping gives no email"
        : `${where} must be a non-empty string`,
    );
  }
  if (!email.includes("@")) throw new MappingError(`${where} "${email}" is not an email address`);
  return email.trim();
}

/** A value as HubSpot stores it: every property value is a string; null clears the property. */
export function toPropertyValue(name: string, value: unknown): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  throw new MappingError(`property "${name}": a ${Array.isArray(value) ? "list" : typeof value} cannot be stored in a HubSpot property`);
}

/** Every property value turned into HubSpot's string form. */
export function toProperties(values: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) if (value !== undefined) out[name] = toPropertyValue(name, value);
  return out;
}

/** Builds the client for one attempt of one action. */
export function createHubspotClient(
  context: Pick<PerformContext<unknown, HubspotCredentials>, "credentials" | "state" | "request" | "now">,
): HubspotClient {
  const { credentials, state, request } = context;
  let refreshed = false;

  const refresh = async () => {
    refreshed = true;
    await refreshAccessToken(context);
  };
  const send = <T>(path: string, options: RequestOptions) =>
    request<T>(path, {
      ...options,
      headers: { ...options.headers, authorization: `Bearer ${currentAccessToken(credentials, state)}` },
    });

  async function call<T>(path: string, options: RequestOptions = {}): Promise<HttpResponse<T>> {
    if (!refreshed && tokenExpired(credentials, state, context.now())) await refresh();
    try {
      return await send<T>(path, options);
    } catch (error) {
      if (!(error instanceof TokenExpiredError) || refreshed || !isOAuth(credentials)) throw error;
      await refresh();
      return send<T>(path, options);
    }
  }

  async function findContact(email: string): Promise<HubspotContact | undefined> {
    const response = await call<HubspotContact>(contactByEmailPath(email), { query: { idProperty: "email" }, accept: [404] });
    return response.status === 404 ? undefined : response.data;
  }

  async function createContact(properties: Record<string, string>): Promise<{ id: string; created: boolean }> {
    const response = await call<{ id: string }>(`${CRM_PATH}/objects/contacts`, {
      method: "POST",
      body: { properties },
      accept: [409],
    });
    if (response.status !== 409) return { id: String(response.data.id), created: true };
    const existing = existingIdFromConflict(response.data);
    if (!existing) {
      throw new RetryableError("HubSpot answered 409 to the contact create without naming the existing contact; will look it up again", {
        status: 409,
      });
    }
    return { id: existing, created: false };
  }

  async function ensureContact(email: string): Promise<{ id: string; created: boolean }> {
    const found = await findContact(email);
    return found ? { id: String(found.id), created: false } : createContact({ email });
  }

  return { call, findContact, createContact, ensureContact };
}

import { MappingError, RetryableError, type ActionLogger, type RequestClient } from "@meshwork/destination-kit";

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

/** A value as ActiveCampaign stores it: text; null clears it. */
export function toFieldValue(name: string, value: unknown): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  throw new MappingError(`${name}: a ${Array.isArray(value) ? "list" : typeof value} cannot be stored in an ActiveCampaign field`);
}

/** The contact fields `contact/sync` takes besides email and custom fields. */
export interface StandardFields {
  firstName?: string;
  lastName?: string;
  phone?: string;
}

const STANDARD: Array<[keyof StandardFields, string[]]> = [
  ["firstName", ["firstName", "first_name"]],
  ["lastName", ["lastName", "last_name"]],
  ["phone", ["phone"]],
];

/**
 * The standard fields and custom field values an event carries: from the rule mapping, else the
 * payload (`firstName`/`first_name`, `lastName`/`last_name`, `phone`). Custom fields come from
 * the mapping as `fieldValues: { "<field id>": value }`, `"fieldValues.<id>"` or a bare `"<id>"` key.
 */
export function contactFields(
  context: { payload: Record<string, unknown>; mapped?: Record<string, unknown> },
  log?: ActionLogger,
): { standard: StandardFields; custom: Record<string, string> } {
  const standard: StandardFields = {};
  const custom: Record<string, string> = {};
  const mapped = context.mapped ?? {};
  for (const [field, keys] of STANDARD) {
    const source = keys.some((k) => mapped[k] !== undefined) ? mapped : context.payload;
    const key = keys.find((k) => source[k] !== undefined && source[k] !== null);
    if (key !== undefined) standard[field] = toFieldValue(key, source[key]);
  }
  const known = new Set(["email", ...STANDARD.flatMap(([, keys]) => keys)]);
  for (const [key, value] of Object.entries(mapped)) {
    if (known.has(key) || value === undefined) continue;
    if (key === "fieldValues" && value && typeof value === "object" && !Array.isArray(value)) {
      for (const [id, v] of Object.entries(value as Record<string, unknown>)) custom[fieldId(id)] = toFieldValue(`fieldValues.${id}`, v);
      continue;
    }
    const id = /^(?:fieldValues\.)?(\d+)$/.exec(key)?.[1];
    if (id) custom[id] = toFieldValue(key, value);
    else log?.warn(`mapped field "${key}" ignored: ActiveCampaign takes email, firstName, lastName, phone, and custom fields by id`);
  }
  return { standard, custom };
}

function fieldId(id: string): string {
  if (!/^\d+$/.test(id)) throw new MappingError(`fieldValues.${id}: custom fields go by numeric field id (GET /api/3/fields)`);
  return id;
}

interface SyncResponse {
  contact?: { id?: string | number };
}

/** `POST /contact/sync`: creates or updates the contact by email; returns its id. */
export async function syncContact(
  request: RequestClient,
  contact: { email: string } & StandardFields & { fieldValues?: Array<{ field: string; value: string }> },
): Promise<string> {
  const { data } = await request<SyncResponse>("/contact/sync", { method: "POST", body: { contact } });
  const id = data.contact?.id;
  if (id === undefined || id === null || id === "") {
    throw new RetryableError("ActiveCampaign answered contact/sync without a contact id; not counted as delivered");
  }
  return String(id);
}

interface ContactsResponse {
  contacts?: Array<{ id: string | number; email?: string }>;
}

/** `GET /contacts?email=`: the id of the contact with exactly this email, if any. */
export async function findContactId(request: RequestClient, email: string): Promise<string | undefined> {
  const { data } = await request<ContactsResponse>("/contacts", { query: { email } });
  const wanted = email.toLowerCase();
  const match = data.contacts?.find((c) => c.email?.toLowerCase() === wanted);
  return match ? String(match.id) : undefined;
}

/** A contact's tag association as `GET /contacts/{id}/contactTags` lists it. */
export interface ContactTag {
  id: string;
  tag: string;
  contact: string;
}

/** `GET /contacts/{id}/contactTags`; undefined when the contact is gone (404). */
export async function contactTags(request: RequestClient, contactId: string): Promise<ContactTag[] | undefined> {
  const response = await request<{ contactTags?: ContactTag[] }>(`/contacts/${contactId}/contactTags`, { accept: [404] });
  if (response.status === 404) return undefined;
  return (response.data.contactTags ?? []).map((t) => ({ id: String(t.id), tag: String(t.tag), contact: String(t.contact) }));
}

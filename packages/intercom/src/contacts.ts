import { MappingError, RetryableError, type RequestClient } from "@meshwork/destination-kit";

/** The fields of an Intercom contact the adapter reads. */
export interface IntercomContact {
  type: "contact";
  id: string;
  role: "user" | "lead";
  email?: string | null;
  created_at?: number;
}

interface ContactList {
  type: "list";
  data: IntercomContact[];
  total_count: number;
}

/** The email a CRM action works on: the mapped `email` when the rule maps one, else `payload.email`. */
export function contactEmail(payload: Record<string, unknown>, mapped?: Record<string, unknown>): string {
  const value = mapped?.email ?? payload.email;
  if (typeof value !== "string" || !value.trim()) {
    const where = mapped && "email" in mapped ? "the rule's mapping gave" : "the event payload has";
    throw new MappingError(
      `${where} no email to find the Intercom contact by: add \`email\` to the payload or map a field to \`email\``,
    );
  }
  return value.trim();
}

/**
 * Finds the contact with this email. Several matches (a user and some leads) → the `role: "user"`
 * one, else the most recently created.
 */
export async function searchContact(request: RequestClient, email: string): Promise<IntercomContact | undefined> {
  const { data } = await request<ContactList>("/contacts/search", {
    method: "POST",
    body: { query: { field: "email", operator: "=", value: email } },
  });
  if (!data || data.type !== "list" || !Array.isArray(data.data)) {
    throw new RetryableError("Intercom answered POST /contacts/search without the documented `{ type: \"list\", data }`");
  }
  return pickContact(data.data);
}

/** Prefers users over leads, then the most recently created. */
export function pickContact(contacts: IntercomContact[]): IntercomContact | undefined {
  const users = contacts.filter((contact) => contact.role === "user");
  const pool = users.length > 0 ? users : contacts;
  return pool.reduce<IntercomContact | undefined>(
    (best, contact) => (!best || (contact.created_at ?? 0) > (best.created_at ?? 0) ? contact : best),
    undefined,
  );
}

/**
 * Finds the contact by email or creates it as a user. A 409 means Intercom has the contact but its
 * search index has not caught up (new contacts can take minutes): search once more, and if it is
 * still missing, fail with a retryable error so a later attempt finds it.
 */
export async function findOrCreateContact(
  request: RequestClient,
  email: string,
): Promise<{ contact: IntercomContact; created: boolean }> {
  const found = await searchContact(request, email);
  if (found) return { contact: found, created: false };

  const { status, data } = await request<IntercomContact>("/contacts", {
    method: "POST",
    body: { role: "user", email },
    accept: [409],
  });
  if (status !== 409) {
    if (!data?.id) throw new RetryableError("Intercom answered POST /contacts without a contact id");
    return { contact: data, created: true };
  }

  const again = await searchContact(request, email);
  if (again) return { contact: again, created: false };
  throw new RetryableError(
    `Intercom says a contact with email ${email} exists (409 conflict) but its search has not caught up yet; ` +
      "new contacts can take a few minutes to become searchable, so a later attempt will find it",
    { status: 409 },
  );
}

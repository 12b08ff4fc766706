import { createSimulator, createSimulatorApp } from "@meshwork/destination-kit";
import type { Context } from "hono";
import type {
  IntercomContactSeed,
  IntercomSimulator,
  IntercomSimulatorOptions,
  IntercomSnapshot,
  IntercomSnapshotEvent,
  IntercomTagSeed,
} from "./types.js";

interface Contact {
  id: string;
  role: "user" | "lead";
  email: string;
  external_id: string | null;
  created_at: number;
  updated_at: number;
  tags: string[];
  hiddenForSearches: number;
}

const METADATA_LIMIT = 10;

/**
 * Creates an in-memory Intercom API: contacts (users and leads), tags, data events and contact
 * search by email, with Intercom's documented response and error shapes. Sandbox connections run
 * the real adapter against it.
 *
 * @example
 * const simulator = createIntercomSimulator({ tags: [{ id: "7", name: "Onboarded" }], searchLag: 1 });
 * await runAction({ destination: intercom(), fetch: simulator.fetch, ... });
 * simulator.snapshot().contacts; // [{ email, role: "user", tags: ["Onboarded"], ... }]
 */
export function createIntercomSimulator(options: IntercomSimulatorOptions = {}): IntercomSimulator {
  const now = () => Math.floor((options.now ?? Date.now)() / 1000);
  const tokens = options.accessTokens ? new Set(options.accessTokens) : undefined;
  const revoked = new Set<string>();
  const contacts: Contact[] = [];
  const tags = new Map<string, string>();
  const events: IntercomSnapshotEvent[] = [];
  let sequence = 0;
  let requestSequence = 0;

  const nextId = () => `6762f0cd1bb69f9f2193${(++sequence).toString(16).padStart(4, "0")}`;
  const requestId = () => `sim-${(++requestSequence).toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
  const errorList = (c: Context, status: number, code: string, message: string) =>
    c.json({ type: "error.list", request_id: requestId(), errors: [{ code, message }] }, status as 400);

  // Lookups by id and by email (lower-cased) must not scan every contact on each request.
  const byId = new Map<string, Contact>();
  const byEmail = new Map<string, Contact[]>();
  const withEmail = (email: string): Contact[] => byEmail.get(email.toLowerCase()) ?? [];

  function addContact(seed: IntercomContactSeed, lag = 0): Contact {
    const created = seed.created_at ?? now();
    const contact: Contact = {
      id: nextId(),
      role: seed.role ?? "user",
      email: seed.email,
      external_id: seed.external_id ?? null,
      created_at: created,
      updated_at: created,
      tags: [],
      hiddenForSearches: seed.hiddenForSearches ?? lag,
    };
    for (const tagId of seed.tags ?? []) {
      if (!tags.has(tagId)) tags.set(tagId, `Tag ${tagId}`);
      contact.tags.push(tagId);
    }
    contacts.push(contact);
    byId.set(contact.id, contact);
    const key = contact.email.toLowerCase();
    const same = byEmail.get(key);
    if (same) same.push(contact);
    else byEmail.set(key, [contact]);
    return contact;
  }
  for (const tag of options.tags ?? []) tags.set(tag.id, tag.name);
  for (const seed of options.contacts ?? []) addContact(seed);

  const contactJson = (contact: Contact) => ({
    type: "contact",
    id: contact.id,
    workspace_id: "meshwork_sandbox",
    external_id: contact.external_id,
    role: contact.role,
    email: contact.email,
    name: null,
    created_at: contact.created_at,
    updated_at: contact.updated_at,
    tags: {
      type: "list",
      data: contact.tags.map((id) => ({ type: "tag", id, url: `/tags/${id}` })),
      url: `/contacts/${contact.id}/tags`,
      total_count: contact.tags.length,
      has_more: false,
    },
  });
  const tagJson = (id: string) => ({ type: "tag", id, name: tags.get(id)! });
  const resolveTag = (id: string): boolean => {
    if (tags.has(id)) return true;
    if (options.strictTags) return false;
    tags.set(id, `Tag ${id}`);
    return true;
  };

  const app = createSimulatorApp();

  app.use(async (c, next) => {
    const accept = c.req.header("accept") ?? "";
    if (!accept.includes("application/json") && !accept.includes("*/*")) {
      return errorList(c, 406, "not_acceptable", "The Accept header must be application/json");
    }
    const match = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "");
    const token = match?.[1]?.trim();
    if (!token || (tokens && !tokens.has(token))) return errorList(c, 401, "unauthorized", "Access Token Invalid");
    if (revoked.has(token)) return errorList(c, 401, "token_revoked", "The access token has been revoked");
    return next();
  });

  app.post("/contacts/search", async (c) => {
    const body = await readJson(c);
    const query = (body?.query ?? {}) as { field?: unknown; operator?: unknown; value?: unknown };
    if (query.field !== "email" || query.operator !== "=" || typeof query.value !== "string") {
      return errorList(c, 400, "parameter_invalid", "The simulator supports only { field: \"email\", operator: \"=\" } queries");
    }
    const email = query.value;
    const found = withEmail(email).filter((contact) => {
      if (contact.hiddenForSearches > 0) {
        contact.hiddenForSearches--;
        return false;
      }
      return true;
    });
    return c.json({
      type: "list",
      data: found.map(contactJson),
      total_count: found.length,
      pages: { type: "pages", page: 1, per_page: 50, total_pages: found.length > 0 ? 1 : 0 },
    });
  });

  app.post("/contacts", async (c) => {
    const body = await readJson(c);
    const role = body?.role ?? "user";
    const email = body?.email;
    if (role !== "user" && role !== "lead") return errorList(c, 400, "parameter_invalid", "role must be user or lead");
    if (typeof email !== "string" || !email.includes("@")) {
      return errorList(c, 400, "parameter_invalid", "A valid email is required");
    }
    const existing = withEmail(email).find((contact) => contact.role === "user");
    if (role === "user" && existing) {
      return errorList(c, 409, "conflict", `A contact matching those details already exists with id=${existing.id}`);
    }
    const contact = addContact({ email, role }, options.searchLag ?? 0);
    return c.json(contactJson(contact));
  });

  app.post("/contacts/:id/tags", async (c) => {
    const contact = byId.get(c.req.param("id"));
    if (!contact) return errorList(c, 404, "not_found", "User Not Found");
    const body = await readJson(c);
    const tagId = body?.id;
    if (typeof tagId !== "string" || !tagId) return errorList(c, 400, "parameter_not_found", "id parameter is required");
    if (!resolveTag(tagId)) return errorList(c, 404, "tag_not_found", "Tag not found");
    if (!contact.tags.includes(tagId)) contact.tags.push(tagId);
    contact.updated_at = now();
    return c.json(tagJson(tagId));
  });

  app.delete("/contacts/:id/tags/:tagId", (c) => {
    const contact = byId.get(c.req.param("id"));
    if (!contact) return errorList(c, 404, "not_found", "User Not Found");
    const tagId = c.req.param("tagId");
    if (!tags.has(tagId) || !contact.tags.includes(tagId)) return errorList(c, 404, "tag_not_found", "Tag not found");
    contact.tags = contact.tags.filter((id) => id !== tagId);
    contact.updated_at = now();
    return c.json(tagJson(tagId));
  });

  app.post("/events", async (c) => {
    const body = await readJson(c);
    if (typeof body?.event_name !== "string" || !body.event_name) {
      return errorList(c, 400, "parameter_not_found", "event_name is required");
    }
    if (typeof body.created_at !== "number" || !Number.isInteger(body.created_at)) {
      return errorList(c, 400, "parameter_invalid", "created_at must be a unix timestamp in seconds");
    }
    const contact =
      typeof body.id === "string"
        ? byId.get(body.id)
        : typeof body.user_id === "string"
          ? contacts.find((candidate) => candidate.external_id === body.user_id)
          : typeof body.email === "string"
            ? withEmail(body.email).find((candidate) => candidate.role === "user")
            : undefined;
    if (!body.id && !body.user_id && !body.email) {
      return errorList(c, 400, "parameter_not_found", "One of id, user_id or email is required");
    }
    if (!contact) return errorList(c, 404, "not_found", "User Not Found");

    let metadata: Record<string, unknown> | undefined;
    if (body.metadata !== undefined) {
      if (!body.metadata || typeof body.metadata !== "object" || Array.isArray(body.metadata)) {
        return errorList(c, 400, "parameter_invalid", "metadata must be an object");
      }
      const entries = Object.entries(body.metadata as Record<string, unknown>);
      const nested = entries.find(([, value]) => typeof value === "object" && value !== null && !isIntercomObject(value));
      if (nested) return errorList(c, 400, "parameter_invalid", `metadata.${nested[0]}: nested objects are not supported`);
      // Intercom keeps the first 10 keys in the order they were sent and ignores the rest.
      metadata = Object.fromEntries(entries.slice(0, METADATA_LIMIT));
    }
    events.push({
      event_name: body.event_name,
      created_at: body.created_at,
      contact_id: contact.id,
      ...(typeof body.email === "string" && { email: body.email }),
      ...(typeof body.user_id === "string" && { user_id: body.user_id }),
      ...(metadata && { metadata }),
    });
    return c.body(null, 202);
  });

  app.notFound((c) => errorList(c, 404, "not_found", "Resource Not Found"));

  const simulator = createSimulator<IntercomSnapshot>({
    type: "intercom",
    app,
    snapshot: () => ({
      contacts: contacts.map((contact) => ({
        id: contact.id,
        role: contact.role,
        email: contact.email,
        external_id: contact.external_id,
        created_at: contact.created_at,
        tags: contact.tags.map((id) => tags.get(id) ?? id),
      })),
      tags: [...tags].map(([id, name]) => ({ id, name })),
      events: events.map((event) => structuredClone(event)),
    }),
  });

  return Object.assign(simulator, {
    addContact: (seed: IntercomContactSeed) => addContact(seed).id,
    addTag: (tag: IntercomTagSeed) => void tags.set(tag.id, tag.name),
    revokeToken: (token: string) => void revoked.add(token),
  });
}

async function readJson(c: Context): Promise<Record<string, unknown> | undefined> {
  try {
    const value: unknown = await c.req.json();
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function isIntercomObject(value: object): boolean {
  const keys = Object.keys(value).sort().join(",");
  return keys === "url,value" || keys === "amount,currency";
}

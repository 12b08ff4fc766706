import { createSimulator, createSimulatorApp } from "@meshwork/destination-kit";
import type { Context } from "hono";
import { API_PATH } from "./constants.js";
import type {
  ActiveCampaignSeedContact,
  ActiveCampaignSimulator,
  ActiveCampaignSimulatorOptions,
  ActiveCampaignSnapshot,
} from "./types.js";

interface Contact {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  phone: string;
  cdate: string;
  udate: string;
  fields: Map<string, string>;
}
interface Membership {
  id: string;
  contact: string;
  list: string;
  status: 1 | 2;
  sdate: string;
  udate: string | null;
}
interface ContactTag {
  id: string;
  contact: string;
  tag: string;
  cdate: string;
}

const LOGIN_PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Login | ActiveCampaign</title></head>
<body><form method="post" action="/admin/index.php"><input name="user"><input name="pass" type="password">
<button type="submit">Log In</button></form></body></html>`;

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * An in-memory ActiveCampaign account answering the v3 requests the adapter makes: contacts
 * (`contact/sync`, `GET /contacts?email=`), custom fields, lists with membership statuses
 * (1 active, 2 unsubscribed), tags and contactTag associations. Errors use the documented shapes:
 * 403 for a refused key (or, in `badKeyResponse: "html-login"` mode, 200 with a login page), 404
 * `{ message }`, 422 `{ errors: [{ title, detail, source: { pointer } }] }`, 429 with `Retry-After`.
 * A second `POST /contactTags` for a tag the contact already has returns the existing association
 * and creates none (ActiveCampaign does not document this case; modelled so a duplicate would show).
 *
 * @example
 * const sim = createActiveCampaignSimulator();
 * const tag = sim.seedTag({ tag: "next-step" });
 * sim.seedContact({ email: "alex@northstar.io", tags: [tag] });
 * sim.snapshot().contacts[0].tags; // ["next-step"]
 */
export function createActiveCampaignSimulator(options: ActiveCampaignSimulatorOptions = {}): ActiveCampaignSimulator {
  const now = options.now ?? Date.now;
  const window = options.rateLimit ?? { max: 5, intervalMs: 1000 };
  const keys = options.apiKeys ? new Set(options.apiKeys) : undefined;

  const contacts = new Map<string, Contact>();
  const fields = new Map<string, { id: string; title: string; type: string; perstag: string }>();
  const lists = new Map<string, { id: string; name: string; stringid: string }>();
  const tags = new Map<string, { id: string; tag: string; tagType: "contact"; description: string }>();
  const memberships = new Map<string, Membership>();
  const contactTags = new Map<string, ContactTag>();
  const counters = { contact: 0, field: 0, list: 0, tag: 0, membership: 0, contactTag: 0 };
  const next = (kind: keyof typeof counters) => String(++counters[kind]);
  const bump = (kind: keyof typeof counters, id: string) => {
    if (/^\d+$/.test(id)) counters[kind] = Math.max(counters[kind], Number(id));
  };
  const hits: number[] = [];
  const stamp = () => new Date(now()).toISOString().replace(/\.\d{3}Z$/, "+00:00");

  // Secondary indexes, so a lookup per request never scans every contact or association.
  const emails = new Map<string, Contact>();
  const tagsOf = new Map<string, Map<string, ContactTag>>();
  const byEmail = (email: string) => emails.get(email.toLowerCase());
  const addContact = (contact: Contact) => {
    contacts.set(contact.id, contact);
    emails.set(contact.email.toLowerCase(), contact);
  };
  const associationsOf = (contact: string): Iterable<ContactTag> => tagsOf.get(contact)?.values() ?? [];
  const removeContactTag = (id: string): boolean => {
    const association = contactTags.get(id);
    if (!association) return false;
    contactTags.delete(id);
    tagsOf.get(association.contact)?.delete(id);
    return true;
  };
  const base = (c: Context) => `${new URL(c.req.url).origin}${API_PATH}`;
  const contactView = (c: Context, contact: Contact) => ({
    cdate: contact.cdate,
    email: contact.email,
    phone: contact.phone,
    firstName: contact.firstName,
    lastName: contact.lastName,
    orgid: "0",
    deleted: "0",
    udate: contact.udate,
    links: {
      contactLists: `${base(c)}/contacts/${contact.id}/contactLists`,
      contactTags: `${base(c)}/contacts/${contact.id}/contactTags`,
      fieldValues: `${base(c)}/contacts/${contact.id}/fieldValues`,
    },
    id: contact.id,
    organization: null,
  });
  const contactTagView = (c: Context, association: ContactTag) => ({
    contact: association.contact,
    tag: association.tag,
    cdate: association.cdate,
    links: { tag: `${base(c)}/contactTags/${association.id}/tag`, contact: `${base(c)}/contactTags/${association.id}/contact` },
    id: association.id,
  });
  const invalid = (c: Context, title: string, pointer: string, detail = "", code = "field_invalid") =>
    c.json({ errors: [{ title, detail, code, source: { pointer } }] }, 422);
  const noResult = (c: Context, what: string, id: string) => c.json({ message: `No Result found for ${what} with id ${id}` }, 404);
  const readJson = async (c: Context): Promise<Record<string, unknown> | undefined> => {
    try {
      const value: unknown = await c.req.json();
      return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  const upsertMembership = (contact: string, list: string, status: 1 | 2): { membership: Membership; created: boolean } => {
    for (const membership of memberships.values()) {
      if (membership.contact === contact && membership.list === list) {
        if (membership.status !== status) {
          membership.status = status;
          membership.udate = stamp();
        }
        return { membership, created: false };
      }
    }
    const membership: Membership = { id: next("membership"), contact, list, status, sdate: stamp(), udate: null };
    memberships.set(membership.id, membership);
    return { membership, created: true };
  };
  const addContactTag = (contact: string, tag: string): { association: ContactTag; created: boolean } => {
    for (const association of associationsOf(contact)) {
      if (association.tag === tag) return { association, created: false };
    }
    const association = { id: next("contactTag"), contact, tag, cdate: stamp() };
    contactTags.set(association.id, association);
    let ofContact = tagsOf.get(contact);
    if (!ofContact) tagsOf.set(contact, (ofContact = new Map()));
    ofContact.set(association.id, association);
    return { association, created: true };
  };

  const app = createSimulatorApp();
  app.notFound((c) => c.json({ message: `No route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));
  app.onError((err, c) => c.json({ message: `simulator error: ${err.message}` }, 500));

  app.use(`${API_PATH}/*`, async (c, next) => {
    const key = c.req.header("api-token")?.trim() ?? "";
    const accepted = key !== "" && (keys ? keys.has(key) : !key.startsWith("invalid"));
    if (!accepted) {
      if (options.badKeyResponse === "html-login") return c.html(LOGIN_PAGE, 200);
      return c.json({ message: "You are not authorized to access this resource" }, 403);
    }
    const at = now();
    while (hits.length && hits[0]! <= at - window.intervalMs) hits.shift();
    if (hits.length >= window.max) {
      const wait = Math.max(1, Math.ceil((hits[0]! + window.intervalMs - at) / 1000));
      return c.json({ message: "Too Many Requests" }, 429, { "Retry-After": String(wait) });
    }
    hits.push(at);
    return next();
  });

  app.post(`${API_PATH}/contact/sync`, async (c) => {
    const body = await readJson(c);
    const input = body?.contact as Record<string, unknown> | undefined;
    if (!input || typeof input !== "object") return invalid(c, "Missing attribute", "/data/attributes/contact", "", "field_missing");
    const email = typeof input.email === "string" ? input.email.trim() : "";
    if (!EMAIL.test(email)) {
      return invalid(c, "Contact Email Address is not valid.", "/data/attributes/email", "", "email_invalid");
    }
    const values = Array.isArray(input.fieldValues) ? (input.fieldValues as Array<{ field?: unknown; value?: unknown }>) : [];
    for (const [index, entry] of values.entries()) {
      // Unknown field ids are rejected here so misconfigured rules show up in the sandbox (our choice).
      if (!fields.has(String(entry.field))) {
        return invalid(c, "Field not found", `/data/attributes/fieldValues/${index}/field`, `No custom field with id ${String(entry.field)}`);
      }
    }
    let contact = byEmail(email);
    const created = !contact;
    if (!contact) {
      contact = { id: next("contact"), email, firstName: "", lastName: "", phone: "", cdate: stamp(), udate: stamp(), fields: new Map() };
      addContact(contact);
    }
    for (const name of ["firstName", "lastName", "phone"] as const) {
      if (typeof input[name] === "string") contact[name] = input[name];
    }
    for (const entry of values) contact.fields.set(String(entry.field), entry.value === null ? "" : String(entry.value));
    contact.udate = stamp();
    const fieldValues = [...contact.fields].map(([field, value], i) => ({
      contact: contact.id,
      field,
      value,
      cdate: contact.cdate,
      udate: contact.udate,
      id: String(i + 1),
      owner: contact.id,
    }));
    return c.json({ fieldValues, contact: contactView(c, contact) }, created ? 201 : 200);
  });

  app.get(`${API_PATH}/contacts`, (c) => {
    const email = c.req.query("email");
    const search = c.req.query("search")?.toLowerCase();
    const found = [...contacts.values()].filter((contact) =>
      email !== undefined ? contact.email.toLowerCase() === email.toLowerCase() : !search || contact.email.toLowerCase().includes(search),
    );
    return c.json({
      scoreValues: [],
      contacts: found.map((contact) => contactView(c, contact)),
      meta: { total: String(found.length), page_input: { email: email ?? null, search: search ?? null, limit: 20, offset: 0 } },
    });
  });

  app.get(`${API_PATH}/contacts/:id`, (c) => {
    const contact = contacts.get(c.req.param("id"));
    return contact ? c.json({ contact: contactView(c, contact) }) : noResult(c, "Subscriber", c.req.param("id"));
  });

  app.get(`${API_PATH}/contacts/:id/contactTags`, (c) => {
    const id = c.req.param("id");
    if (!contacts.has(id)) return noResult(c, "Subscriber", id);
    return c.json({ contactTags: [...associationsOf(id)].map((t) => contactTagView(c, t)) });
  });

  app.get(`${API_PATH}/contacts/:id/contactLists`, (c) => {
    const id = c.req.param("id");
    if (!contacts.has(id)) return noResult(c, "Subscriber", id);
    return c.json({ contactLists: [...memberships.values()].filter((m) => m.contact === id) });
  });

  app.post(`${API_PATH}/contactLists`, async (c) => {
    const input = (await readJson(c))?.contactList as Record<string, unknown> | undefined;
    for (const name of ["list", "contact", "status"]) {
      if (input?.[name] === undefined || input[name] === null || input[name] === "") {
        return invalid(c, "Missing attribute", `/data/attributes/${name}`, "", "field_missing");
      }
    }
    const list = String(input!.list);
    const contact = String(input!.contact);
    const status = Number(input!.status);
    if (status !== 1 && status !== 2) return invalid(c, "Invalid status", "/data/attributes/status", "status must be 1 or 2");
    if (!lists.has(list)) return noResult(c, "List", list);
    const stored = contacts.get(contact);
    if (!stored) return noResult(c, "Subscriber", contact);
    const { membership, created } = upsertMembership(contact, list, status);
    return c.json(
      {
        contacts: [contactView(c, stored)],
        contactList: { ...membership, first_name: stored.firstName, last_name: stored.lastName, sourceid: "0", links: {} },
      },
      created ? 201 : 200,
    );
  });

  app.post(`${API_PATH}/contactTags`, async (c) => {
    const input = (await readJson(c))?.contactTag as Record<string, unknown> | undefined;
    for (const name of ["contact", "tag"]) {
      if (input?.[name] === undefined || input[name] === null || input[name] === "") {
        return c.json({ errors: [{ status: 422, title: "Missing attribute", source: { pointer: `/data/attributes/${name}` } }] }, 422);
      }
    }
    const contact = String(input!.contact);
    const tag = String(input!.tag);
    if (!contacts.has(contact)) return c.json({ errors: [{ status: 404, title: "Not Found", detail: "Contact not found" }] }, 404);
    if (!tags.has(tag)) return c.json({ errors: [{ status: 404, title: "Not Found", detail: "Tag not found" }] }, 404);
    const { association, created } = addContactTag(contact, tag);
    return c.json({ contactTag: contactTagView(c, association) }, created ? 201 : 200);
  });

  app.get(`${API_PATH}/contactTags/:id`, (c) => {
    const association = contactTags.get(c.req.param("id"));
    return association ? c.json({ contactTag: contactTagView(c, association) }) : noResult(c, "SubscriberTag", c.req.param("id"));
  });

  app.delete(`${API_PATH}/contactTags/:id`, (c) => {
    if (!removeContactTag(c.req.param("id"))) return noResult(c, "SubscriberTag", c.req.param("id"));
    return c.json({});
  });

  app.get(`${API_PATH}/tags`, (c) => {
    const search = c.req.query("search")?.toLowerCase();
    const found = [...tags.values()].filter((t) => !search || t.tag.toLowerCase().includes(search));
    return c.json({ tags: found, meta: { total: String(found.length) } });
  });

  // Modelled so tests can prove the adapter never calls it: this deletes the tag for every contact.
  app.delete(`${API_PATH}/tags/:id`, (c) => {
    const id = c.req.param("id");
    if (!tags.delete(id)) return noResult(c, "Tag", id);
    for (const [key, association] of contactTags) if (association.tag === id) removeContactTag(key);
    return c.json({});
  });

  app.get(`${API_PATH}/lists`, (c) => c.json({ lists: [...lists.values()], meta: { total: String(lists.size) } }));
  app.get(`${API_PATH}/fields`, (c) => c.json({ fields: [...fields.values()], meta: { total: String(fields.size) } }));

  const simulator = createSimulator<ActiveCampaignSnapshot>({
    type: "activecampaign",
    app,
    snapshot: () => ({
      contacts: [...contacts.values()].map((contact) => ({
        id: contact.id,
        email: contact.email,
        firstName: contact.firstName,
        lastName: contact.lastName,
        phone: contact.phone,
        fields: Object.fromEntries(contact.fields),
        lists: [...memberships.values()]
          .filter((m) => m.contact === contact.id)
          .map((m) => ({ id: m.list, name: lists.get(m.list)?.name ?? "", status: m.status === 1 ? ("active" as const) : ("unsubscribed" as const) })),
        tags: [...associationsOf(contact.id)].map((t) => tags.get(t.tag)?.tag ?? t.tag),
      })),
      lists: [...lists.values()].map(({ id, name }) => ({ id, name })),
      tags: [...tags.values()].map(({ id, tag }) => ({ id, tag })),
    }),
  });

  return {
    ...simulator,
    seedContact(input: ActiveCampaignSeedContact) {
      if (byEmail(input.email)) throw new TypeError(`seedContact: a contact with email ${input.email} exists`);
      for (const id of Object.keys(input.fields ?? {})) if (!fields.has(id)) throw new TypeError(`seedContact: no field ${id}`);
      for (const id of Object.keys(input.lists ?? {})) if (!lists.has(id)) throw new TypeError(`seedContact: no list ${id}`);
      for (const id of input.tags ?? []) if (!tags.has(id)) throw new TypeError(`seedContact: no tag ${id}`);
      const contact: Contact = {
        id: next("contact"),
        email: input.email,
        firstName: input.firstName ?? "",
        lastName: input.lastName ?? "",
        phone: input.phone ?? "",
        cdate: stamp(),
        udate: stamp(),
        fields: new Map(Object.entries(input.fields ?? {})),
      };
      addContact(contact);
      for (const [list, status] of Object.entries(input.lists ?? {})) upsertMembership(contact.id, list, status);
      for (const tag of input.tags ?? []) addContactTag(contact.id, tag);
      return contact.id;
    },
    seedList(input: { name: string; id?: string }) {
      const id = input.id ?? next("list");
      if (lists.has(id)) throw new TypeError(`seedList: list ${id} exists`);
      bump("list", id);
      lists.set(id, { id, name: input.name, stringid: input.name.toLowerCase().replace(/[^a-z0-9]+/g, "-") });
      return id;
    },
    seedTag(input: { tag: string; id?: string; description?: string }) {
      const id = input.id ?? next("tag");
      if (tags.has(id)) throw new TypeError(`seedTag: tag ${id} exists`);
      bump("tag", id);
      tags.set(id, { id, tag: input.tag, tagType: "contact", description: input.description ?? "" });
      return id;
    },
    seedField(input: { title: string; id?: string; type?: string; perstag?: string }) {
      const id = input.id ?? next("field");
      if (fields.has(id)) throw new TypeError(`seedField: field ${id} exists`);
      bump("field", id);
      const perstag = input.perstag ?? input.title.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
      fields.set(id, { id, title: input.title, type: input.type ?? "text", perstag });
      return id;
    },
  };
}

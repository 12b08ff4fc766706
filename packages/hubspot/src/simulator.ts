import { createSimulator, createSimulatorApp } from "@meshwork/destination-kit";
import type { Context } from "hono";
import { CRM_PATH, OAUTH_TOKEN_PATH } from "./constants.js";
import type {
  HubspotPropertyDefinition,
  HubspotPropertyValue,
  HubspotSimulator,
  HubspotSimulatorOptions,
  HubspotSnapshot,
  HubspotSnapshotList,
} from "./types.js";

const LIFECYCLE_STAGES = [
  "subscriber",
  "lead",
  "marketingqualifiedlead",
  "salesqualifiedlead",
  "opportunity",
  "customer",
  "evangelist",
  "other",
];

/** The contact properties every simulated portal starts with. */
export const DEFAULT_PROPERTIES: readonly HubspotPropertyDefinition[] = [
  { name: "email", label: "Email", type: "string", fieldType: "text" },
  { name: "firstname", label: "First Name", type: "string", fieldType: "text" },
  { name: "lastname", label: "Last Name", type: "string", fieldType: "text" },
  { name: "phone", label: "Phone Number", type: "string", fieldType: "phonenumber" },
  { name: "company", label: "Company Name", type: "string", fieldType: "text" },
  { name: "jobtitle", label: "Job Title", type: "string", fieldType: "text" },
  {
    name: "lifecyclestage",
    label: "Lifecycle Stage",
    type: "enumeration",
    fieldType: "radio",
    options: LIFECYCLE_STAGES.map((value) => ({ label: value, value })),
  },
  { name: "onboarding_step", label: "Onboarding step", type: "number", fieldType: "number" },
];

interface StoredContact {
  id: string;
  properties: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

interface StoredList {
  listId: string;
  name: string;
  processingType: HubspotSnapshotList["processingType"];
  members: Set<string>;
}

interface PropertyError {
  isValid: false;
  message: string;
  error: string;
  name: string;
}

/**
 * An in-memory HubSpot portal answering the CRM v3 requests the adapter makes: contacts (lookup by
 * id or `idProperty=email`, create with 409 on a duplicate email, update with property
 * validation), property definitions with enumeration options, MANUAL/SNAPSHOT lists and their
 * memberships, OAuth refresh and token expiry, a rolling 10-second rate limit and a daily limit.
 * Errors use HubSpot's documented shape `{ status: "error", message, correlationId, category }`.
 *
 * @example
 * const sim = createHubspotSimulator();
 * const listId = sim.seedList({ name: "Onboarding" });
 * await runAction({ destination: hubspot(), action: "add_to_list", fetch: sim.fetch, … });
 * sim.snapshot().lists; // [{ listId, name: "Onboarding", members: ["alex@northstar.io"], … }]
 */
export function createHubspotSimulator(options: HubspotSimulatorOptions = {}): HubspotSimulator {
  const now = options.now ?? Date.now;
  const window = options.rateLimit ?? { max: 100, intervalMs: 10_000 };
  const dailyLimit = options.dailyLimit ?? 250_000;
  const tokenLifetimeMs = (options.tokenLifetimeSeconds ?? 1800) * 1000;

  const contacts = new Map<string, StoredContact>();
  const properties = new Map<string, HubspotPropertyDefinition>();
  for (const definition of [...DEFAULT_PROPERTIES, ...(options.properties ?? [])]) properties.set(definition.name, definition);
  const lists = new Map<string, StoredList>();
  let nextContactId = 501;
  let nextListId = 1;
  let correlation = 0;

  const configuredTokens = options.tokens ? new Set(options.tokens) : undefined;
  const issued = new Map<string, number>(); // token → expiry (epoch ms)
  const issuedTokens: string[] = [];
  const expired = new Set<string>();
  const hits: number[] = [];
  let dailyCount = 0;

  const error = (c: Context, status: number, category: string, message: string, extra: Record<string, unknown> = {}) =>
    c.json(
      { status: "error", message, correlationId: `sim-${(++correlation).toString(16).padStart(8, "0")}`, category, ...extra },
      status as 400,
    );

  // Contacts by lower-cased email: a lookup per request must not scan every contact.
  const emails = new Map<string, StoredContact>();
  const byEmail = (email: string) => emails.get(email.toLowerCase());
  const setProperties = (contact: StoredContact, values: Record<string, string>) => {
    const before = contact.properties.email?.toLowerCase();
    Object.assign(contact.properties, values);
    const after = contact.properties.email?.toLowerCase();
    if (before === after) return;
    if (before !== undefined && emails.get(before) === contact) emails.delete(before);
    if (after) emails.set(after, contact);
  };

  const validate = (values: Record<string, unknown>): { errors: PropertyError[]; clean: Record<string, string> } => {
    const errors: PropertyError[] = [];
    const clean: Record<string, string> = {};
    for (const [name, raw] of Object.entries(values)) {
      const definition = properties.get(name);
      const value = raw === null || raw === undefined ? "" : String(raw as HubspotPropertyValue);
      if (!definition) {
        errors.push({ isValid: false, message: `Property "${name}" does not exist`, error: "PROPERTY_DOESNT_EXIST", name });
        continue;
      }
      if (value !== "" && definition.type === "enumeration" && !definition.options?.some((o) => o.value === value)) {
        const allowed = definition.options?.map((o) => o.value).join(", ") ?? "";
        errors.push({ isValid: false, message: `${value} was not one of the allowed options: [${allowed}]`, error: "INVALID_OPTION", name });
        continue;
      }
      // The error code for a non-numeric number is the simulator's choice.
      if (value !== "" && definition.type === "number" && !/^-?\d+(\.\d+)?$/.test(value)) {
        errors.push({ isValid: false, message: `${value} is not a valid number`, error: "INVALID_NUMBER", name });
        continue;
      }
      if (name === "email" && value !== "" && !/^[^@\s]+@[^@\s]+$/.test(value)) {
        errors.push({ isValid: false, message: `Email address ${value} is invalid`, error: "INVALID_EMAIL", name });
        continue;
      }
      clean[name] = value;
    }
    return { errors, clean };
  };

  const invalidProperties = (c: Context, errors: PropertyError[]) =>
    error(c, 400, "VALIDATION_ERROR", `Property values were not valid: ${JSON.stringify(errors)}`);

  const view = (contact: StoredContact) => ({
    id: contact.id,
    properties: {
      ...contact.properties,
      hs_object_id: contact.id,
      createdate: contact.createdAt,
      lastmodifieddate: contact.updatedAt,
    },
    createdAt: contact.createdAt,
    updatedAt: contact.updatedAt,
    archived: false,
  });

  const readJson = async (c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> => {
    try {
      return { ok: true, value: await c.req.json() };
    } catch {
      return { ok: false, response: error(c, 400, "VALIDATION_ERROR", "Invalid input JSON: the request body is not valid JSON") };
    }
  };

  const insertContact = (values: Record<string, string>): StoredContact => {
    const stamp = new Date(now()).toISOString();
    const contact: StoredContact = { id: String(nextContactId++), properties: {}, createdAt: stamp, updatedAt: stamp };
    setProperties(contact, values);
    contacts.set(contact.id, contact);
    return contact;
  };

  const app = createSimulatorApp();
  app.notFound((c) => error(c, 404, "OBJECT_NOT_FOUND", `No route for ${c.req.method} ${new URL(c.req.url).pathname}`));
  app.onError((err, c) => error(c, 500, "INTERNAL_ERROR", `simulator error: ${err.message}`));

  app.post(OAUTH_TOKEN_PATH, async (c) => {
    const form = await c.req.parseBody();
    const field = (name: string) => (typeof form[name] === "string" ? (form[name] as string) : "");
    const fail = (status: string, message: string) =>
      c.json({ status, message, correlationId: `sim-${(++correlation).toString(16)}` }, 400);
    if (field("grant_type") !== "refresh_token") return fail("BAD_GRANT_TYPE", "grant_type must be refresh_token");
    const clientId = field("client_id");
    const clientSecret = field("client_secret");
    const refreshToken = field("refresh_token");
    if (options.oauthClients) {
      const client = options.oauthClients.find((o) => o.clientId === clientId);
      if (!client) return fail("BAD_CLIENT_ID", "missing or invalid client_id");
      if (client.clientSecret !== clientSecret) return fail("BAD_CLIENT_SECRET", "missing or invalid client_secret");
      if (client.refreshToken !== refreshToken) return fail("BAD_REFRESH_TOKEN", "missing or unknown refresh token");
    } else {
      if (!clientId) return fail("BAD_CLIENT_ID", "missing or invalid client_id");
      if (!clientSecret) return fail("BAD_CLIENT_SECRET", "missing or invalid client_secret");
      if (!refreshToken || refreshToken.startsWith("invalid")) return fail("BAD_REFRESH_TOKEN", "missing or unknown refresh token");
    }
    const token = `sim-oauth-${issuedTokens.length + 1}-${Math.random().toString(36).slice(2, 12)}`;
    issued.set(token, now() + tokenLifetimeMs);
    issuedTokens.push(token);
    return c.json({ token_type: "bearer", refresh_token: refreshToken, access_token: token, expires_in: tokenLifetimeMs / 1000 });
  });

  app.use(`${CRM_PATH}/*`, async (c, next) => {
    const match = /^Bearer\s+(.+)$/i.exec(c.req.header("authorization") ?? "");
    const token = match?.[1]?.trim();
    if (!token) {
      return error(c, 401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication.");
    }
    const expiry = issued.get(token);
    if (expired.has(token) || (expiry !== undefined && expiry <= now())) {
      const ago = Math.max(0, Math.round((now() - (expiry ?? now())) / 60_000));
      return error(c, 401, "EXPIRED_AUTHENTICATION", `The OAuth token used to make this call expired ${ago} minute(s) ago.`);
    }
    const known = expiry !== undefined || (configuredTokens ? configuredTokens.has(token) : !token.startsWith("invalid"));
    if (!known) {
      return error(c, 401, "INVALID_AUTHENTICATION", "Authentication credentials not found. This API supports OAuth 2.0 authentication.");
    }

    const at = now();
    while (hits.length && hits[0]! <= at - window.intervalMs) hits.shift();
    const rateHeaders = (remaining: number) => ({
      "X-HubSpot-RateLimit-Max": String(window.max),
      "X-HubSpot-RateLimit-Remaining": String(Math.max(0, remaining)),
      "X-HubSpot-RateLimit-Interval-Milliseconds": String(window.intervalMs),
      "X-HubSpot-RateLimit-Daily": String(dailyLimit),
      "X-HubSpot-RateLimit-Daily-Remaining": String(Math.max(0, dailyLimit - dailyCount)),
    });
    if (dailyCount >= dailyLimit || hits.length >= window.max) {
      const daily = dailyCount >= dailyLimit;
      const response = error(c, 429, "RATE_LIMITS", `You have reached your ${daily ? "daily" : "ten_secondly_rolling"} limit.`, {
        errorType: "RATE_LIMIT",
        policyName: daily ? "DAILY" : "TEN_SECONDLY_ROLLING",
      });
      for (const [name, value] of Object.entries(rateHeaders(0))) response.headers.set(name, value);
      return response;
    }
    hits.push(at);
    dailyCount++;
    await next();
    for (const [name, value] of Object.entries(rateHeaders(window.max - hits.length))) c.res.headers.set(name, value);
  });

  const findContact = (c: Context): StoredContact | undefined => {
    const key = c.req.param("contactId") ?? "";
    return c.req.query("idProperty") === "email" ? byEmail(key) : contacts.get(key);
  };
  const notFound = (c: Context) =>
    error(c, 404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.", {
      context: { id: [c.req.param("contactId") ?? ""] },
    });

  app.get(`${CRM_PATH}/objects/contacts/:contactId`, (c) => {
    const contact = findContact(c);
    return contact ? c.json(view(contact)) : notFound(c);
  });

  app.post(`${CRM_PATH}/objects/contacts`, async (c) => {
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const input = (body.value as { properties?: Record<string, unknown> } | null)?.properties ?? {};
    const { errors, clean } = validate(input);
    if (errors.length) return invalidProperties(c, errors);
    const existing = clean.email ? byEmail(clean.email) : undefined;
    if (existing) return error(c, 409, "CONFLICT", `Contact already exists. Existing ID: ${existing.id}`);
    return c.json(view(insertContact(clean)), 201);
  });

  app.patch(`${CRM_PATH}/objects/contacts/:contactId`, async (c) => {
    const contact = findContact(c);
    if (!contact) return notFound(c);
    const body = await readJson(c);
    if (!body.ok) return body.response;
    const input = (body.value as { properties?: Record<string, unknown> } | null)?.properties ?? {};
    const { errors, clean } = validate(input);
    if (errors.length) return invalidProperties(c, errors);
    const other = clean.email ? byEmail(clean.email) : undefined;
    if (other && other.id !== contact.id) return error(c, 409, "CONFLICT", `Contact already exists. Existing ID: ${other.id}`);
    setProperties(contact, clean);
    contact.updatedAt = new Date(now()).toISOString();
    return c.json(view(contact));
  });

  app.get(`${CRM_PATH}/properties/contacts/:name`, (c) => {
    const definition = properties.get(c.req.param("name"));
    if (!definition) return error(c, 404, "OBJECT_NOT_FOUND", `Unable to find property ${c.req.param("name")}`);
    return c.json({ ...definition, groupName: "contactinformation", options: definition.options ?? [] });
  });

  const listView = (list: StoredList) => ({
    listId: list.listId,
    name: list.name,
    processingType: list.processingType,
    objectTypeId: "0-1",
    size: list.members.size,
  });

  app.get(`${CRM_PATH}/lists/:listId`, (c) => {
    const list = lists.get(c.req.param("listId"));
    return list ? c.json({ list: listView(list) }) : error(c, 404, "OBJECT_NOT_FOUND", `List ${c.req.param("listId")} does not exist.`);
  });

  app.put(`${CRM_PATH}/lists/:listId/memberships/:change{add|remove}`, async (c) => {
    const list = lists.get(c.req.param("listId"));
    if (!list) return error(c, 404, "OBJECT_NOT_FOUND", `List ${c.req.param("listId")} does not exist.`);
    if (list.processingType === "DYNAMIC") {
      return error(c, 400, "VALIDATION_ERROR", `List ${list.listId} is a DYNAMIC list; memberships can only change on MANUAL or SNAPSHOT lists.`);
    }
    const body = await readJson(c);
    if (!body.ok) return body.response;
    if (!Array.isArray(body.value)) return error(c, 400, "VALIDATION_ERROR", "Expected a JSON array of record ids");
    const ids = (body.value as unknown[]).map(String);
    const result = { recordIdsMissing: [] as string[], recordIdsRemoved: [] as string[], recordsIdsAdded: [] as string[] };
    for (const id of ids) {
      if (!contacts.has(id)) result.recordIdsMissing.push(id);
      else if (c.req.param("change") === "add") {
        if (!list.members.has(id)) result.recordsIdsAdded.push(id);
        list.members.add(id);
      } else if (list.members.delete(id)) result.recordIdsRemoved.push(id);
    }
    return c.json(result);
  });

  const simulator = createSimulator<HubspotSnapshot>({
    type: "hubspot",
    app,
    snapshot: () => ({
      contacts: [...contacts.values()].map((contact) => ({ id: contact.id, properties: { ...contact.properties } })),
      lists: [...lists.values()].map((list) => ({
        listId: list.listId,
        name: list.name,
        processingType: list.processingType,
        members: [...list.members].map((id) => contacts.get(id)?.properties.email || id),
      })),
    }),
  });

  return {
    ...simulator,
    seedContact(values: Record<string, HubspotPropertyValue>) {
      const { errors, clean } = validate(values);
      if (errors.length) throw new TypeError(`seedContact: ${errors.map((e) => `${e.name}: ${e.message}`).join("; ")}`);
      if (clean.email && byEmail(clean.email)) throw new TypeError(`seedContact: a contact with email ${clean.email} exists`);
      return insertContact(clean).id;
    },
    seedList(input: { name: string; listId?: string; processingType?: HubspotSnapshotList["processingType"]; members?: string[] }) {
      const listId = input.listId ?? String(nextListId);
      if (lists.has(listId)) throw new TypeError(`seedList: list ${listId} exists`);
      if (/^\d+$/.test(listId)) nextListId = Math.max(nextListId, Number(listId) + 1);
      const members = new Set<string>();
      for (const member of input.members ?? []) {
        const contact = member.includes("@") ? byEmail(member) : contacts.get(member);
        if (!contact) throw new TypeError(`seedList: no contact ${member}`);
        members.add(contact.id);
      }
      lists.set(listId, { listId, name: input.name, processingType: input.processingType ?? "MANUAL", members });
      return listId;
    },
    defineProperty(definition: HubspotPropertyDefinition) {
      properties.set(definition.name, definition);
    },
    expireToken(token: string) {
      expired.add(token);
    },
    get issuedTokens(): readonly string[] {
      return [...issuedTokens];
    },
  };
}

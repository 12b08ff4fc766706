import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import conflict from "../__fixtures__/contact-conflict.json";
import created from "../__fixtures__/contact-created.json";
import notFound from "../__fixtures__/contact-not-found.json";
import contact from "../__fixtures__/contact.json";
import { API, PRIVATE_APP_TOKEN, run, useMockServer } from "../__fixtures__/harness.js";
import invalidOption from "../__fixtures__/invalid-option.json";

const { server, sent } = useMockServer();
const metadata = { properties: { lifecyclestage: "lead", onboarding_step: "{{sequence_step}}" } };
const properties = { lifecyclestage: "lead", onboarding_step: "3", email: "alex@northstar.io" };

describe("sync_contact", () => {
  it("updates an existing contact by email with PATCH ?idProperty=email", async () => {
    server.use(http.patch(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)));
    const result = await run("sync_contact", { metadata });
    expect(result).toMatchObject({ outcome: "delivered", status: 200 });
    expect(result.message).toBe("contact 512 updated (lifecyclestage, onboarding_step, email)");
    const [patch, ...rest] = await sent();
    expect(rest).toEqual([]);
    expect(patch).toMatchObject({
      method: "PATCH",
      path: "/crm/v3/objects/contacts/alex%40northstar.io",
      query: { idProperty: "email" },
      headers: { authorization: `Bearer ${PRIVATE_APP_TOKEN}`, "content-type": "application/json", accept: "application/json" },
    });
    expect(JSON.parse(patch!.text)).toEqual({ properties });
  });

  it("creates the contact when the update answers 404", async () => {
    server.use(
      http.patch(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(notFound, { status: 404 })),
      http.post(`${API}/crm/v3/objects/contacts`, () => HttpResponse.json(created, { status: 201 })),
    );
    const result = await run("sync_contact", { metadata });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 601 created (lifecyclestage, onboarding_step, email)" });
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "PATCH /crm/v3/objects/contacts/alex%40northstar.io",
      "POST /crm/v3/objects/contacts",
    ]);
    expect(requests[1]!.query).toEqual({});
    expect(JSON.parse(requests[1]!.text)).toEqual({ properties });
  });

  it("on a 409 race uses the existing id from the message and updates that contact", async () => {
    server.use(
      http.patch(`${API}/crm/v3/objects/contacts/alex%40northstar.io`, () => HttpResponse.json(notFound, { status: 404 })),
      http.post(`${API}/crm/v3/objects/contacts`, () => HttpResponse.json(conflict, { status: 409 })),
      http.patch(`${API}/crm/v3/objects/contacts/512`, () => HttpResponse.json(contact)),
    );
    const result = await run("sync_contact", { metadata });
    expect(result).toMatchObject({ outcome: "delivered" });
    expect(result.message).toMatch(/^contact 512 updated .*created concurrently$/);
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "PATCH /crm/v3/objects/contacts/alex%40northstar.io",
      "POST /crm/v3/objects/contacts",
      "PATCH /crm/v3/objects/contacts/512",
    ]);
    expect(requests[2]!.query).toEqual({});
    expect(JSON.parse(requests[2]!.text)).toEqual({ properties });
  });

  it("takes the email and properties from the rule mapping, percent-encoding the email", async () => {
    server.use(http.patch(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)));
    const result = await run("sync_contact", {
      metadata: { properties: { lifecyclestage: "lead" } },
      mapped: { email: "alex+trial@northstar.io", firstname: "Alex", onboarding_step: 4, lifecyclestage: "customer" },
    });
    expect(result.outcome).toBe("delivered");
    const [patch] = await sent();
    expect(patch!.path).toBe("/crm/v3/objects/contacts/alex%2Btrial%40northstar.io");
    expect(JSON.parse(patch!.text)).toEqual({
      properties: { lifecyclestage: "customer", email: "alex+trial@northstar.io", firstname: "Alex", onboarding_step: "4" },
    });
  });

  it("accepts mapped properties nested under `properties` (dest: \"properties.firstname\")", async () => {
    server.use(http.patch(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)));
    const result = await run("sync_contact", { metadata: {}, mapped: { properties: { firstname: "Alex", onboarding_step: 2 } } });
    expect(result.outcome).toBe("delivered");
    const [patch] = await sent();
    expect(JSON.parse(patch!.text)).toEqual({ properties: { firstname: "Alex", onboarding_step: "2", email: "alex@northstar.io" } });
  });

  it("fails with mapping_error and sends nothing when there is no email", async () => {
    const result = await run("sync_contact", { metadata, payload: { user_id: "usr_5012", sequence_step: 3 } });
    expect(result).toMatchObject({ outcome: "mapping_error", retryable: false });
    expect(result.message).toMatch(/no contact email/);
    expect(await sent()).toEqual([]);
  });

  it("reports an enumeration value that is not an option as a permanent, explained error", async () => {
    server.use(http.patch(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(invalidOption, { status: 400 })));
    const result = await run("sync_contact", { metadata: { properties: { onboarding_step: 7 } } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 400 });
    expect(result.message).toContain('property "onboarding_step" was given an invalid option');
    expect(result.message).toContain("7 was not one of the allowed options");
  });
});

import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import created from "../__fixtures__/contact-created.json";
import notFound from "../__fixtures__/contact-not-found.json";
import contact from "../__fixtures__/contact.json";
import { API, run, useMockServer } from "../__fixtures__/harness.js";
import invalidOption from "../__fixtures__/invalid-option.json";

const { server, sent } = useMockServer();
const metadata = { id: "onboarding_step", value: "{{sequence_step}}" };

describe("update_property", () => {
  it("renders the template and PATCHes the one property on the contact's id", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.patch(`${API}/crm/v3/objects/contacts/512`, () => HttpResponse.json(contact)),
    );
    const result = await run("update_property", { metadata });
    expect(result).toMatchObject({ outcome: "delivered", message: 'contact 512: onboarding_step set to "3"' });
    const [lookup, patch] = await sent();
    expect(lookup).toMatchObject({ method: "GET", path: "/crm/v3/objects/contacts/alex%40northstar.io", query: { idProperty: "email" } });
    expect(patch).toMatchObject({ method: "PATCH", path: "/crm/v3/objects/contacts/512", query: {} });
    expect(JSON.parse(patch!.text)).toEqual({ properties: { onboarding_step: "3" } });
  });

  it("creates a missing contact with the property in one request", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(notFound, { status: 404 })),
      http.post(`${API}/crm/v3/objects/contacts`, () => HttpResponse.json(created, { status: 201 })),
    );
    const result = await run("update_property", { metadata: { id: "lifecyclestage", value: "lead" } });
    expect(result).toMatchObject({ outcome: "delivered", message: 'contact 601 created with lifecyclestage = "lead"' });
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /crm/v3/objects/contacts/alex%40northstar.io",
      "POST /crm/v3/objects/contacts",
    ]);
    expect(JSON.parse(requests[1]!.text)).toEqual({ properties: { email: "alex@northstar.io", lifecyclestage: "lead" } });
  });

  it("tells the user the option is invalid on 400 INVALID_OPTION, without retrying", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.patch(`${API}/crm/v3/objects/contacts/512`, () => HttpResponse.json(invalidOption, { status: 400 })),
    );
    const result = await run("update_property", { metadata, payload: { email: "alex@northstar.io", sequence_step: 7 } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toMatch(/property "onboarding_step" was given an invalid option/);
    expect(result.message).toMatch(/use one of the property's option values/);
  });

  it("reports a template the payload cannot fill as mapping_error", async () => {
    const result = await run("update_property", { metadata, payload: { email: "alex@northstar.io" } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(await sent()).toEqual([]);
  });
});

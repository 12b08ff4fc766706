import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import created from "../__fixtures__/contact-created.json";
import notFound from "../__fixtures__/contact-not-found.json";
import contact from "../__fixtures__/contact.json";
import { API, PRIVATE_APP_TOKEN, run, useMockServer } from "../__fixtures__/harness.js";
import added from "../__fixtures__/memberships-add.json";
import missingScopes from "../__fixtures__/missing-scopes.json";

const { server, sent } = useMockServer();

describe("add_to_list", () => {
  it("looks the contact up by email, then PUTs its record id as a JSON array", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.put(`${API}/crm/v3/lists/7/memberships/add`, () => HttpResponse.json(added)),
    );
    const result = await run("add_to_list", { metadata: { id: "7" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 512 added to list 7" });
    const [lookup, put] = await sent();
    expect(lookup).toMatchObject({
      method: "GET",
      path: "/crm/v3/objects/contacts/alex%40northstar.io",
      query: { idProperty: "email" },
      headers: { authorization: `Bearer ${PRIVATE_APP_TOKEN}` },
    });
    expect(put).toMatchObject({ method: "PUT", path: "/crm/v3/lists/7/memberships/add", headers: { "content-type": "application/json" } });
    expect(JSON.parse(put!.text)).toEqual(["512"]);
  });

  it("creates a missing contact first (our choice) and adds the new record", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(notFound, { status: 404 })),
      http.post(`${API}/crm/v3/objects/contacts`, () => HttpResponse.json(created, { status: 201 })),
      http.put(`${API}/crm/v3/lists/7/memberships/add`, () =>
        HttpResponse.json({ recordIdsMissing: [], recordIdsRemoved: [], recordsIdsAdded: ["601"] }),
      ),
    );
    const result = await run("add_to_list", { metadata: { id: 7 } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 601 created and added to list 7" });
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /crm/v3/objects/contacts/alex%40northstar.io",
      "POST /crm/v3/objects/contacts",
      "PUT /crm/v3/lists/7/memberships/add",
    ]);
    expect(JSON.parse(requests[1]!.text)).toEqual({ properties: { email: "alex@northstar.io" } });
    expect(JSON.parse(requests[2]!.text)).toEqual(["601"]);
  });

  it("counts an existing membership as delivered", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.put(`${API}/crm/v3/lists/7/memberships/add`, () =>
        HttpResponse.json({ recordIdsMissing: [], recordIdsRemoved: [], recordsIdsAdded: [] }),
      ),
    );
    const result = await run("add_to_list", { metadata: { id: "7" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 512 already in list 7" });
  });

  it("retries when the lists service does not see the record yet (recordIdsMissing)", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.put(`${API}/crm/v3/lists/7/memberships/add`, () =>
        HttpResponse.json({ recordIdsMissing: ["512"], recordIdsRemoved: [], recordsIdsAdded: [] }),
      ),
    );
    const result = await run("add_to_list", { metadata: { id: "7" } });
    expect(result).toMatchObject({ outcome: "rejected_server_error", retryable: true });
    expect(result.message).toContain("recordIdsMissing");
  });

  it("names the missing scope on 403 MISSING_SCOPES, permanently", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.put(`${API}/crm/v3/lists/7/memberships/add`, () => HttpResponse.json(missingScopes, { status: 403 })),
    );
    const result = await run("add_to_list", { metadata: { id: "7" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 403 });
    expect(result.message).toContain("missing scopes");
    expect(result.message).toContain("crm.lists.write");
  });

  it("rejects a list id that is not the numeric ILS id before sending anything", async () => {
    const result = await run("add_to_list", { metadata: { id: "onboarding" } });
    expect(result).toMatchObject({ outcome: "mapping_error" });
    expect(result.message).toMatch(/^metadata\.id: must be the numeric list id/);
    expect(await sent()).toEqual([]);
  });
});

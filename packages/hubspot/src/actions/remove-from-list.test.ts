import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import notFound from "../__fixtures__/contact-not-found.json";
import contact from "../__fixtures__/contact.json";
import { API, run, useMockServer } from "../__fixtures__/harness.js";
import removed from "../__fixtures__/memberships-remove.json";

const { server, sent } = useMockServer();

describe("remove_from_list", () => {
  it("removes the contact's record id from the list", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.put(`${API}/crm/v3/lists/8/memberships/remove`, () => HttpResponse.json(removed)),
    );
    const result = await run("remove_from_list", { metadata: { id: "8" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 512 removed from list 8" });
    const [lookup, put] = await sent();
    expect(lookup).toMatchObject({ method: "GET", path: "/crm/v3/objects/contacts/alex%40northstar.io", query: { idProperty: "email" } });
    expect(put).toMatchObject({ method: "PUT", path: "/crm/v3/lists/8/memberships/remove" });
    expect(JSON.parse(put!.text)).toEqual(["512"]);
  });

  it("is a delivered no-op, saying so, when HubSpot has no such contact", async () => {
    server.use(http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(notFound, { status: 404 })));
    const result = await run("remove_from_list", { metadata: { id: "8" } });
    expect(result).toMatchObject({ outcome: "delivered", retryable: false });
    expect(result.message).toBe("no HubSpot contact has this email; nothing to remove from list 8");
    const requests = await sent();
    expect(requests.map((r) => r.method)).toEqual(["GET"]);
  });

  it("is delivered when the contact was not a member", async () => {
    server.use(
      http.get(`${API}/crm/v3/objects/contacts/:email`, () => HttpResponse.json(contact)),
      http.put(`${API}/crm/v3/lists/8/memberships/remove`, () =>
        HttpResponse.json({ recordIdsMissing: [], recordIdsRemoved: [], recordsIdsAdded: [] }),
      ),
    );
    const result = await run("remove_from_list", { metadata: { id: "8" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 512 was not in list 8; nothing removed" });
  });
});

import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import contactList from "../__fixtures__/contact-list.json";
import sync from "../__fixtures__/contact-sync.json";
import byEmail from "../__fixtures__/contacts-by-email.json";
import empty from "../__fixtures__/contacts-empty.json";
import { API, API_KEY, run, useMockServer } from "../__fixtures__/harness.js";

const { server, sent } = useMockServer();

describe("add_to_list", () => {
  it("gets the contact id from contact/sync, then subscribes it with status 1", async () => {
    server.use(
      http.post(`${API}/contact/sync`, () => HttpResponse.json(sync)),
      http.post(`${API}/contactLists`, () => HttpResponse.json(contactList, { status: 201 })),
    );
    const result = await run("add_to_list", { metadata: { id: 3 } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 113 subscribed to list 3" });
    const [syncRequest, listRequest] = await sent();
    expect(JSON.parse(syncRequest!.text)).toEqual({ contact: { email: "alex@northstar.io" } });
    expect(listRequest).toMatchObject({ method: "POST", url: `${API}/contactLists`, headers: { "api-token": API_KEY } });
    expect(JSON.parse(listRequest!.text)).toEqual({ contactList: { list: "3", contact: "113", status: 1 } });
  });
});

describe("remove_from_list", () => {
  it("finds the contact by email and unsubscribes it with status 2", async () => {
    server.use(
      http.get(`${API}/contacts`, () => HttpResponse.json(byEmail)),
      http.post(`${API}/contactLists`, () => HttpResponse.json({ ...contactList, contactList: { ...contactList.contactList, status: 2 } })),
    );
    const result = await run("remove_from_list", { metadata: { id: "3" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 113 unsubscribed from list 3" });
    const [lookup, unsubscribe] = await sent();
    expect(lookup).toMatchObject({ method: "GET", path: "/api/3/contacts", query: { email: "alex@northstar.io" } });
    expect(JSON.parse(unsubscribe!.text)).toEqual({ contactList: { list: "3", contact: "113", status: 2 } });
  });

  it("encodes the email in the query so a plus address survives", async () => {
    server.use(http.get(`${API}/contacts`, () => HttpResponse.json(empty)));
    await run("remove_from_list", { metadata: { id: "3" }, payload: { email: "alex+trial@northstar.io" } });
    const [lookup] = await sent();
    expect(lookup!.url).toBe(`${API}/contacts?email=alex%2Btrial@northstar.io`);
    expect(lookup!.query).toEqual({ email: "alex+trial@northstar.io" });
  });

  it("is a delivered no-op when no contact has the email", async () => {
    server.use(http.get(`${API}/contacts`, () => HttpResponse.json(empty)));
    const result = await run("remove_from_list", { metadata: { id: "3" } });
    expect(result).toMatchObject({ outcome: "delivered" });
    expect(result.message).toBe("no ActiveCampaign contact has this email; nothing to remove from list 3");
    expect((await sent()).map((r) => r.method)).toEqual(["GET"]);
  });

  it("treats a 404 from contactLists as nothing to remove", async () => {
    server.use(
      http.get(`${API}/contacts`, () => HttpResponse.json(byEmail)),
      http.post(`${API}/contactLists`, () => HttpResponse.json({ message: "No Result found for List with id 3" }, { status: 404 })),
    );
    const result = await run("remove_from_list", { metadata: { id: "3" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "list 3 or contact 113 not found (404); nothing to remove" });
  });
});

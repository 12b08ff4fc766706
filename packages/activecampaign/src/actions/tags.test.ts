import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import created from "../__fixtures__/contact-tag-created.json";
import deleted from "../__fixtures__/contact-tag-deleted.json";
import notFound from "../__fixtures__/contact-tag-not-found.json";
import contactTags from "../__fixtures__/contact-tags.json";
import sync from "../__fixtures__/contact-sync.json";
import byEmail from "../__fixtures__/contacts-by-email.json";
import empty from "../__fixtures__/contacts-empty.json";
import { API, API_KEY, run, useMockServer } from "../__fixtures__/harness.js";

const { server, sent } = useMockServer();

describe("add_tag", () => {
  it("syncs the contact, checks its tags and creates the association", async () => {
    server.use(
      http.post(`${API}/contact/sync`, () => HttpResponse.json(sync)),
      http.get(`${API}/contacts/113/contactTags`, () => HttpResponse.json(contactTags)),
      http.post(`${API}/contactTags`, () => HttpResponse.json(created, { status: 201 })),
    );
    const result = await run("add_tag", { metadata: { id: "14" } });
    expect(result).toMatchObject({ outcome: "delivered", status: 201, message: "tag 14 added to contact 113 (association 112480)" });
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /api/3/contact/sync",
      "GET /api/3/contacts/113/contactTags",
      "POST /api/3/contactTags",
    ]);
    expect(requests[2]!.headers["api-token"]).toBe(API_KEY);
    expect(JSON.parse(requests[2]!.text)).toEqual({ contactTag: { contact: "113", tag: "14" } });
  });

  it("does not create a second association when the contact already has the tag", async () => {
    server.use(
      http.post(`${API}/contact/sync`, () => HttpResponse.json(sync)),
      http.get(`${API}/contacts/113/contactTags`, () => HttpResponse.json(contactTags)),
    );
    const result = await run("add_tag", { metadata: { id: 47 } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 113 already has tag 47 (association 112479); nothing added" });
    expect((await sent()).map((r) => r.method)).toEqual(["POST", "GET"]);
  });
});

describe("remove_tag", () => {
  it("deletes the contactTag association by its id, never the tag", async () => {
    server.use(
      http.get(`${API}/contacts`, () => HttpResponse.json(byEmail)),
      http.get(`${API}/contacts/113/contactTags`, () => HttpResponse.json(contactTags)),
      http.delete(`${API}/contactTags/:id`, () => HttpResponse.json(deleted)),
    );
    const result = await run("remove_tag", { metadata: { id: "47" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "tag 47 removed from contact 113 (association 112479 deleted)" });
    const requests = await sent();
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      `GET ${API}/contacts?email=alex@northstar.io`,
      `GET ${API}/contacts/113/contactTags`,
      `DELETE ${API}/contactTags/112479`,
    ]);
    expect(requests.some((r) => r.path.startsWith("/api/3/tags"))).toBe(false);
  });

  it("is a delivered no-op when no contact has the email", async () => {
    server.use(http.get(`${API}/contacts`, () => HttpResponse.json(empty)));
    const result = await run("remove_tag", { metadata: { id: "47" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "no ActiveCampaign contact has this email; nothing to untag" });
    expect((await sent()).map((r) => r.method)).toEqual(["GET"]);
  });

  it("is a delivered no-op when the contact does not have the tag", async () => {
    server.use(
      http.get(`${API}/contacts`, () => HttpResponse.json(byEmail)),
      http.get(`${API}/contacts/113/contactTags`, () => HttpResponse.json(contactTags)),
    );
    const result = await run("remove_tag", { metadata: { id: "99" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "contact 113 does not have tag 99; nothing to remove" });
    expect((await sent()).map((r) => r.method)).toEqual(["GET", "GET"]);
  });

  it("treats a 404 on the DELETE (already removed) as nothing to remove", async () => {
    server.use(
      http.get(`${API}/contacts`, () => HttpResponse.json(byEmail)),
      http.get(`${API}/contacts/113/contactTags`, () => HttpResponse.json(contactTags)),
      http.delete(`${API}/contactTags/:id`, () => HttpResponse.json(notFound, { status: 404 })),
    );
    const result = await run("remove_tag", { metadata: { id: "47" } });
    expect(result).toMatchObject({ outcome: "delivered", message: "association 112479 was already gone; nothing to remove" });
  });
});

import { describe, expect, it } from "vitest";
import { createActiveCampaignSimulator } from "./index.js";

const API = "https://northstar.api-us1.com/api/3";
const key = { "api-token": "good-key", "content-type": "application/json" };

function call(sim: ReturnType<typeof createActiveCampaignSimulator>, method: string, path: string, body?: unknown, headers = key) {
  return sim.fetch(`${API}${path}`, { method, headers, ...(body !== undefined && { body: JSON.stringify(body) }) });
}

describe("ActiveCampaign simulator", () => {
  it("syncs contacts by email: 201 when created, 200 when updated, never a second contact", async () => {
    const sim = createActiveCampaignSimulator();
    sim.seedField({ id: "5", title: "Plan" });
    const first = await call(sim, "POST", "/contact/sync", { contact: { email: "alex@northstar.io", firstName: "Alex" } });
    expect(first.status).toBe(201);
    const { contact } = (await first.json()) as { contact: { id: string } };
    const again = await call(sim, "POST", "/contact/sync", {
      contact: { email: "ALEX@northstar.io", lastName: "Rivera", fieldValues: [{ field: "5", value: "pro" }] },
    });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ contact: { id: contact.id }, fieldValues: [{ field: "5", value: "pro" }] });
    expect(sim.snapshot().contacts).toEqual([
      { id: contact.id, email: "alex@northstar.io", firstName: "Alex", lastName: "Rivera", phone: "", fields: { "5": "pro" }, lists: [], tags: [] },
    ]);
    const found = await call(sim, "GET", "/contacts?email=alex%40northstar.io");
    expect(await found.json()).toMatchObject({ contacts: [{ id: contact.id }], meta: { total: "1" } });
  });

  it("answers invalid input with 422 errors naming the attribute", async () => {
    const sim = createActiveCampaignSimulator();
    const bad = await call(sim, "POST", "/contact/sync", { contact: { email: "not-an-email" } });
    expect(bad.status).toBe(422);
    expect(await bad.json()).toMatchObject({ errors: [{ title: "Contact Email Address is not valid.", source: { pointer: "/data/attributes/email" } }] });
    const unknownField = await call(sim, "POST", "/contact/sync", { contact: { email: "a@b.io", fieldValues: [{ field: "99", value: "x" }] } });
    expect(unknownField.status).toBe(422);
  });

  it("keeps one membership per contact and list, with status 1 (active) or 2 (unsubscribed)", async () => {
    const sim = createActiveCampaignSimulator();
    const list = sim.seedList({ name: "Onboarding" });
    const contact = sim.seedContact({ email: "alex@northstar.io" });
    expect((await call(sim, "POST", "/contactLists", { contactList: { list, contact, status: 1 } })).status).toBe(201);
    const unsubscribe = await call(sim, "POST", "/contactLists", { contactList: { list, contact, status: 2 } });
    expect(unsubscribe.status).toBe(200);
    expect(await unsubscribe.json()).toMatchObject({ contactList: { list, contact, status: 2 } });
    expect(sim.snapshot().contacts[0]!.lists).toEqual([{ id: list, name: "Onboarding", status: "unsubscribed" }]);
    expect((await call(sim, "POST", "/contactLists", { contactList: { list: "99", contact, status: 1 } })).status).toBe(404);
  });

  it("returns the existing association for a tag the contact already has, creating none", async () => {
    const sim = createActiveCampaignSimulator();
    const tag = sim.seedTag({ tag: "next-step" });
    const contact = sim.seedContact({ email: "alex@northstar.io" });
    const first = await call(sim, "POST", "/contactTags", { contactTag: { contact, tag } });
    expect(first.status).toBe(201);
    const { contactTag } = (await first.json()) as { contactTag: { id: string } };
    const second = await call(sim, "POST", "/contactTags", { contactTag: { contact, tag } });
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ contactTag: { id: contactTag.id, contact, tag } });
    expect(sim.snapshot().contacts[0]!.tags).toEqual(["next-step"]);
    const listed = await call(sim, "GET", `/contacts/${contact}/contactTags`);
    expect(await listed.json()).toMatchObject({ contactTags: [{ id: contactTag.id, tag, contact }] });
  });

  it("deletes an association by its id; DELETE /tags/{id} removes the tag from everyone", async () => {
    const sim = createActiveCampaignSimulator();
    const tag = sim.seedTag({ tag: "trial" });
    sim.seedContact({ email: "alex@northstar.io", tags: [tag] });
    sim.seedContact({ email: "sam@northstar.io", tags: [tag] });
    const deleted = await call(sim, "DELETE", "/contactTags/1");
    expect([deleted.status, await deleted.json()]).toEqual([200, {}]);
    expect(sim.snapshot().contacts.map((c) => c.tags)).toEqual([[], ["trial"]]);
    const missing = await call(sim, "DELETE", "/contactTags/1");
    expect([missing.status, await missing.json()]).toEqual([404, { message: "No Result found for SubscriberTag with id 1" }]);
    await call(sim, "DELETE", `/tags/${tag}`);
    expect(sim.snapshot().contacts.map((c) => c.tags)).toEqual([[], []]);
  });

  it("refuses a bad key with 403, or with a 200 HTML login page in that mode", async () => {
    const strict = createActiveCampaignSimulator({ apiKeys: ["good-key"] });
    const refused = await call(strict, "GET", "/contacts", undefined, { "api-token": "other", "content-type": "application/json" });
    expect(refused.status).toBe(403);
    expect((await call(strict, "GET", "/contacts")).status).toBe(200);

    const html = createActiveCampaignSimulator({ badKeyResponse: "html-login" });
    const page = await call(html, "GET", "/contacts", undefined, { "api-token": "invalid-key", "content-type": "application/json" });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/<title>Login/);
  });

  it("answers 429 with Retry-After past 5 requests per second", async () => {
    let clock = 0;
    const sim = createActiveCampaignSimulator({ now: () => clock });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await call(sim, "GET", "/contacts")).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await call(sim, "GET", "/contacts");
    expect(limited.headers.get("retry-after")).toBe("1");
    clock = 1000;
    expect((await call(sim, "GET", "/contacts")).status).toBe(200);
  });
});

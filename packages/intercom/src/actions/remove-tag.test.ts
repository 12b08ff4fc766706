import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import empty from "../__fixtures__/contacts-search-empty.json";
import found from "../__fixtures__/contacts-search.json";
import tagNotFound from "../__fixtures__/error-tag-not-found.json";
import { captureRequest, runTestAction, type SentRequest } from "@meshwork/destination-kit/testing";
import tag from "../__fixtures__/tag.json";
import { intercom } from "../index.js";

const server = setupServer();
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => server.resetHandlers());
afterAll(() => server.close());

const credentials = { accessToken: "dG9rOmludGVyY29tLWxpdmUtdG9rZW4=", region: "eu" };
const base = "https://api.eu.intercom.io";

describe("remove_tag", () => {
  it("searches the contact and deletes the tag from it", async () => {
    const sent: SentRequest[] = [];
    server.use(
      http.post(`${base}/contacts/search`, async ({ request }) => {
        sent.push(await captureRequest(request));
        return HttpResponse.json(found);
      }),
      http.delete(`${base}/contacts/:id/tags/:tagId`, async ({ request }) => {
        sent.push(await captureRequest(request));
        return HttpResponse.json(tag);
      }),
    );
    const result = await runTestAction(intercom(), "remove_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "delivered", status: 200 });
    expect(result.message).toBe("tag 7522907 removed from contact 6762f0cd1bb69f9f2193bb7c (alex@northstar.io)");
    expect(sent).toEqual([
      expect.objectContaining({
        method: "POST",
        url: `${base}/contacts/search`,
        body: { query: { field: "email", operator: "=", value: "alex@northstar.io" } },
      }),
      expect.objectContaining({
        method: "DELETE",
        url: `${base}/contacts/6762f0cd1bb69f9f2193bb7c/tags/7522907`,
        headers: expect.objectContaining({ accept: "application/json", "intercom-version": "2.15" }),
        body: undefined,
      }),
    ]);
  });

  it("no contact with that email → delivered as a no-op, without creating one", async () => {
    server.use(http.post(`${base}/contacts/search`, () => HttpResponse.json(empty)));
    const result = await runTestAction(intercom(), "remove_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "delivered" });
    expect(result.message).toBe("no Intercom contact with email alex@northstar.io; nothing to remove");
    expect(result.exchanges).toHaveLength(1);
  });

  it("the tag is not on the contact (404) → delivered as a no-op, saying so", async () => {
    server.use(
      http.post(`${base}/contacts/search`, () => HttpResponse.json(found)),
      http.delete(`${base}/contacts/:id/tags/:tagId`, () => HttpResponse.json(tagNotFound, { status: 404 })),
    );
    const result = await runTestAction(intercom(), "remove_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "delivered", status: 404 });
    expect(result.message).toMatch(/not on contact .* tag_not_found: Tag not found .*nothing to remove/);
  });

  it("403 on the delete → rejected_client_error with what to do", async () => {
    server.use(
      http.post(`${base}/contacts/search`, () => HttpResponse.json(found)),
      http.delete(`${base}/contacts/:id/tags/:tagId`, () =>
        HttpResponse.json({ type: "error.list", errors: [{ code: "forbidden", message: "Missing scope" }] }, { status: 403 }),
      ),
    );
    const result = await runTestAction(intercom(), "remove_tag", { credentials, metadata: { id: "7522907" } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 403 });
    expect(result.message).toMatch(/forbidden: Missing scope.*grant it/);
  });
});

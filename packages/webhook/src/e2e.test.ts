// Real HTTP on 127.0.0.1 (no msw): the default transport, the receiver's node:http listener,
// redirects, timeouts and the connect-time SSRF check against DNS rebinding.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { deliver, SECRET_B, VECTOR } from "./__fixtures__/deliveries.js";
import { createWebhookReceiver, type LookupFunction } from "./index.js";

const secrets = [VECTOR.secret, SECRET_B];
const servers: Server[] = [];

async function listen(listener: RequestListener): Promise<{ url: string; port: number }> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port };
}

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe("a real delivery over HTTP", () => {
  it("reaches a local receiver allowed by allowedHosts, which verifies it and dedupes the retry", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret });
    const { url } = await listen(receiver.listener);
    const options = { allowedHosts: ["127.0.0.1"] };
    const credentials = { url: `${url}/hooks/meshwork?tenant=acme`, secrets };

    const first = await deliver(credentials, { options, now: Date.now });
    expect(first, first.message).toMatchObject({ outcome: "delivered", status: 200 });
    const retry = await deliver(credentials, { options, now: Date.now, attempt: 2 });
    expect(retry).toMatchObject({ outcome: "delivered", status: 200 });
    expect(retry.exchanges[0]!.response!.body).toBe('{"received":true,"duplicate":true}');

    const { deliveries, rejected } = receiver.snapshot();
    expect(rejected).toEqual([]);
    expect(deliveries).toEqual([
      expect.objectContaining({
        id: "del_7f3a9c",
        method: "POST",
        path: "/hooks/meshwork?tenant=acme",
        verified: true,
        received: 2,
        payload: expect.objectContaining({ id: "evt_01JDQ8Z7W3", type: "user.signup", payload: expect.objectContaining({ seats: 3 }) }),
      }),
    ]);
  });

  it("is refused without the allow-list, and nothing reaches the server", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret });
    const { url } = await listen(receiver.listener);
    const result = await deliver({ url: `${url}/hooks`, secrets }, { now: Date.now });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toContain('refusing to deliver to 127.0.0.1: it is a loopback address (SSRF guard). If this receiver is meant to be reachable, pass allowedHosts: ["127.0.0.1"]');
    expect(receiver.snapshot().deliveries).toEqual([]);
  });

  it("disables the connection when the receiver answers 410", async () => {
    const receiver = createWebhookReceiver({ secrets: VECTOR.secret, status: 410 });
    const { url } = await listen(receiver.listener);
    const result = await deliver({ url, secrets }, { options: { allowedHosts: ["127.0.0.1"] } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", disableConnection: true, status: 410 });
  });

  it("does not follow a redirect: one request, the Location never asked for", async () => {
    const seen: string[] = [];
    const { url } = await listen((request: IncomingMessage, response: ServerResponse) => {
      seen.push(`${request.method} ${request.url}`);
      if (request.url === "/start") response.writeHead(302, { location: "/metadata" }).end();
      else response.writeHead(200).end("{}");
    });
    const result = await deliver({ url: `${url}/start`, secrets }, { options: { allowedHosts: ["127.0.0.1"] } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false, status: 302 });
    expect(result.message).toContain("answered a 302 redirect, which is not followed");
    expect(seen).toEqual(["POST /start"]);
  });

  it("times out against a receiver that never answers", async () => {
    const { url } = await listen(() => {
      // never answers
    });
    const result = await deliver({ url, secrets }, { options: { allowedHosts: ["127.0.0.1"] }, timeoutMs: 150 });
    expect(result).toMatchObject({ outcome: "timeout", retryable: true });
  });

  it("retries when nothing listens on the port", async () => {
    const { url } = await listen(() => undefined);
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
    const result = await deliver({ url, secrets }, { options: { allowedHosts: ["127.0.0.1"] } });
    expect(result).toMatchObject({ outcome: "network_error", retryable: true });
    expect(result.message).toContain("ECONNREFUSED");
  });
});

describe("DNS rebinding", () => {
  it("is caught at connect time: the address the socket would use is checked again", async () => {
    const seen: string[] = [];
    const { port } = await listen((request, response) => {
      seen.push(request.url ?? "");
      response.writeHead(200).end("ok");
    });
    // The first answer (the pre-flight check) is public; the second (the connection) is loopback.
    const answers = ["93.184.216.34", "127.0.0.1"];
    const asked: string[] = [];
    const lookup: LookupFunction = async (hostname) => {
      asked.push(hostname);
      return [{ address: answers.shift() ?? "127.0.0.1", family: 4 }];
    };
    const result = await deliver({ url: `http://rebind.example:${port}/hook`, secrets }, { options: { lookup } });
    expect(asked).toEqual(["rebind.example", "rebind.example"]);
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toContain("refusing to deliver to rebind.example: it resolves to 127.0.0.1, a loopback address (SSRF guard)");
    expect(seen).toEqual([]);
  });

  it("connects to the checked address when the host name is allowed", async () => {
    const receiver = createWebhookReceiver({ secrets: SECRET_B });
    const { port } = await listen(receiver.listener);
    const lookup: LookupFunction = async () => [{ address: "127.0.0.1", family: 4 }];
    const result = await deliver(
      { url: `http://receiver.internal:${port}/hook`, secrets },
      { options: { lookup, allowedHosts: ["receiver.internal"] }, now: Date.now },
    );
    expect(result, result.message).toMatchObject({ outcome: "delivered" });
    expect(receiver.snapshot().deliveries[0]).toMatchObject({ verified: true, path: "/hook" });
  });
});

import { http, HttpResponse } from "msw";
import { setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { deliver, NOW, publicLookup, VECTOR } from "./__fixtures__/deliveries.js";
import { classifyAddress, createWebhookSimulator, webhook, type LookupFunction } from "./index.js";

const secrets = [VECTOR.secret];
let received: string[] = [];
const server = setupServer(
  http.post(/^http:\/\/(receiver\.internal|10\.0\.0\.5|192\.168\.1\.20|hooks\.northstar\.io)(:\d+)?\//, ({ request }) => {
    received.push(request.url);
    return HttpResponse.json({ ok: true });
  }),
);
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(() => {
  received = [];
});
afterAll(() => server.close());

const resolvesTo = (...addresses: string[]) =>
  vi.fn<LookupFunction>(async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })));

describe("classifyAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.0.0.1", "private network"],
    ["172.16.0.1", "private network"],
    ["172.31.255.254", "private network"],
    ["192.168.0.1", "private network"],
    ["169.254.169.254", "cloud metadata"],
    ["169.254.1.1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["100.64.0.1", "carrier-grade NAT (shared)"],
    ["100.127.255.254", "carrier-grade NAT (shared)"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fc00::1", "private network"],
    ["fd12:3456:789a::1", "private network"],
    ["fd00:ec2::254", "cloud metadata"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["ff02::1", "multicast"],
  ])("%s is %s", (address, kind) => {
    expect(classifyAddress(address)).toEqual({ kind });
  });

  it.each([
    ["::ffff:127.0.0.1", "loopback", "IPv4-mapped 127.0.0.1"],
    ["::ffff:7f00:1", "loopback", "IPv4-mapped 127.0.0.1"],
    ["::ffff:10.1.2.3", "private network", "IPv4-mapped 10.1.2.3"],
    ["::ffff:a9fe:a9fe", "cloud metadata", "IPv4-mapped 169.254.169.254"],
    ["::ffff:100.64.0.1", "carrier-grade NAT (shared)", "IPv4-mapped 100.64.0.1"],
    ["::127.0.0.1", "loopback", "IPv4-compatible 127.0.0.1"],
    ["64:ff9b::a9fe:a9fe", "cloud metadata", "NAT64 169.254.169.254"],
    ["2002:c0a8:101::1", "private network", "6to4 192.168.1.1"],
  ])("%s embeds a refused IPv4 address", (address, kind, via) => {
    expect(classifyAddress(address)).toEqual({ kind, via });
  });

  it.each(["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "not-an-ip"])(
    "%s is public (or not an address)",
    (address) => {
      expect(classifyAddress(address)).toBeUndefined();
    },
  );
});

describe("the SSRF guard in send_webhook", () => {
  it.each([
    ["http://127.0.0.1/hook", "127.0.0.1", "a loopback"],
    ["http://127.1:8080/hook", "127.0.0.1", "a loopback"],
    ["http://2130706433/hook", "127.0.0.1", "a loopback"],
    ["http://0x7f.0.0.1/hook", "127.0.0.1", "a loopback"],
    ["http://10.0.0.5/hook", "10.0.0.5", "a private network"],
    ["http://172.20.1.1/hook", "172.20.1.1", "a private network"],
    ["http://192.168.1.20/hook", "192.168.1.20", "a private network"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254", "a cloud metadata"],
    ["http://169.254.3.4/", "169.254.3.4", "a link-local"],
    ["http://0.0.0.0:3000/", "0.0.0.0", "an unspecified"],
    ["http://100.100.100.200/", "100.100.100.200", "a carrier-grade NAT (shared)"],
    ["http://[::1]:3000/hook", "::1", "a loopback"],
    ["http://[::]/hook", "::", "an unspecified"],
    ["http://[fd00::5]/hook", "fd00::5", "a private network"],
    ["http://[fe80::1]/hook", "fe80::1", "a link-local"],
    ["http://[::ffff:127.0.0.1]/hook", "::ffff:7f00:1 (IPv4-mapped 127.0.0.1)", "a loopback"],
    ["http://[::ffff:169.254.169.254]/hook", "::ffff:a9fe:a9fe (IPv4-mapped 169.254.169.254)", "a cloud metadata"],
  ])("refuses the literal address in %s without a DNS lookup or a request", async (url, named, kind) => {
    const lookup = resolvesTo("93.184.216.34");
    const result = await deliver({ url, secrets }, { options: { lookup } });
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toContain(`refusing to deliver to ${named}: it is ${kind} address (SSRF guard)`);
    expect(result.message).toContain("pass allowedHosts: [");
    expect(result.message).toContain("allowPrivateNetworks: true");
    expect(result.exchanges).toHaveLength(0);
    expect(lookup).not.toHaveBeenCalled();
    expect(received).toHaveLength(0);
  });

  it.each([
    ["10.0.0.5", "a private network address"],
    ["169.254.169.254", "a cloud metadata address"],
    ["::ffff:192.168.0.10", "a private network address"],
    ["fd00:ec2::254", "a cloud metadata address"],
  ])("refuses a host name resolving to %s, naming host, address and the fix", async (address, kind) => {
    const lookup = resolvesTo(address);
    const result = await deliver({ url: "https://receiver.internal/hook", secrets }, { options: { lookup } });
    expect(lookup).toHaveBeenCalledWith("receiver.internal");
    expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
    expect(result.message).toMatch(new RegExp(`^refusing to deliver to receiver\\.internal: it resolves to ${address.replace(/[.]/g, "\\.")}.*, ${kind} \\(SSRF guard\\)`));
    expect(result.message).toContain('pass allowedHosts: ["receiver.internal"] (or allowPrivateNetworks: true) to webhook()');
    expect(received).toHaveLength(0);
  });

  it("refuses a host name when any of its addresses is not public", async () => {
    const lookup = resolvesTo("93.184.216.34", "127.0.0.1");
    const result = await deliver({ url: "http://receiver.internal/hook", secrets }, { options: { lookup } });
    expect(result.message).toContain("it resolves to 127.0.0.1, a loopback address");
  });

  it.each(["localhost", "api.localhost", "LOCALHOST."])("refuses %s by name, before DNS", async (host) => {
    const lookup = resolvesTo("93.184.216.34");
    const result = await deliver({ url: `http://${host}:3000/hook`, secrets }, { options: { lookup } });
    expect(result.outcome).toBe("rejected_client_error");
    expect(result.message).toContain("a loopback address");
    expect(lookup).not.toHaveBeenCalled();
  });

  it.each(["file:///etc/passwd", "ftp://hooks.northstar.io/in", "gopher://127.0.0.1:6379/_INFO", "javascript:alert(1)"])(
    "refuses the non-http scheme of %s",
    async (url) => {
      const result = await deliver({ url, secrets });
      expect(result).toMatchObject({ outcome: "rejected_client_error", retryable: false });
      expect(result.message).toMatch(/^connection credentials are invalid at url: must be an http: or https: URL, not [a-z]+:$/);
    },
  );

  it("refuses a non-http base URL when the destination is built", () => {
    expect(() => webhook({ baseUrl: "file:///tmp" })).toThrow("must be an http: or https: URL, not file:");
  });

  it("lets allowedHosts open a host name, an IP literal, or a resolved address; exact matches only", async () => {
    const lookup = resolvesTo("10.0.0.5");
    const byName = await deliver({ url: "http://receiver.internal/hook", secrets }, { options: { lookup, allowedHosts: ["Receiver.Internal"] } });
    expect(byName).toMatchObject({ outcome: "delivered" });
    const byLiteral = await deliver({ url: "http://10.0.0.5:8080/hook", secrets }, { options: { allowedHosts: ["10.0.0.5"] } });
    expect(byLiteral).toMatchObject({ outcome: "delivered" });
    const byAddress = await deliver({ url: "http://receiver.internal/hook", secrets }, { options: { lookup, allowedHosts: ["10.0.0.5"] } });
    expect(byAddress).toMatchObject({ outcome: "delivered" });
    expect(received).toEqual(["http://receiver.internal/hook", "http://10.0.0.5:8080/hook", "http://receiver.internal/hook"]);

    const other = await deliver({ url: "http://other.internal/hook", secrets }, { options: { lookup, allowedHosts: ["receiver.internal"] } });
    expect(other.outcome).toBe("rejected_client_error");
    const v6 = await deliver({ url: "http://[::1]/hook", secrets }, { options: { allowedHosts: ["127.0.0.1"] } });
    expect(v6.outcome).toBe("rejected_client_error");
  });

  it("lets allowPrivateNetworks open every non-public address, skipping the lookup", async () => {
    const lookup = resolvesTo("10.0.0.5");
    const result = await deliver({ url: "http://192.168.1.20/hook", secrets }, { options: { lookup, allowPrivateNetworks: true } });
    expect(result.outcome).toBe("delivered");
    expect(lookup).not.toHaveBeenCalled();
  });

  it("trusts the host of the factory's baseUrl, which comes from code, not from credentials", async () => {
    const result = await deliver(
      { url: "https://hooks.example.com/hook", secrets },
      { options: { baseUrl: "http://10.0.0.5:9000", lookup: resolvesTo("93.184.216.34") } },
    );
    expect(result.outcome).toBe("delivered");
    expect(received).toEqual(["http://10.0.0.5:9000/hook"]);
  });

  it("retries when the DNS lookup fails", async () => {
    const lookup = vi.fn<LookupFunction>(async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND receiver.internal"), { code: "ENOTFOUND" });
    });
    const result = await deliver({ url: "https://receiver.internal/hook", secrets }, { options: { lookup } });
    expect(result).toMatchObject({ outcome: "network_error", retryable: true, message: "DNS lookup of receiver.internal failed: ENOTFOUND" });
  });

  it("gives up on a hanging DNS lookup when the attempt is aborted", async () => {
    const lookup = vi.fn<LookupFunction>(() => new Promise(() => undefined));
    const controller = new AbortController();
    const pending = deliver({ url: "https://receiver.internal/hook", secrets }, { options: { lookup }, signal: controller.signal });
    controller.abort();
    expect(await pending).toMatchObject({ outcome: "timeout", retryable: true, message: "the delivery was aborted during the DNS lookup" });
  });

  it("in sandbox mode checks scheme and literal addresses but never resolves DNS", async () => {
    const lookup = resolvesTo("10.0.0.5");
    const destination = webhook({ lookup });
    const simulator = createWebhookSimulator({ secrets, now: () => NOW });
    const sandbox = { id: "acme-webhook", workspace: "acme-prod", type: "webhook", mode: "sandbox" as const };
    const byName = await deliver({ url: "https://receiver.internal/hook", secrets }, { destination, connection: sandbox, fetch: simulator.fetch });
    expect(byName.outcome).toBe("delivered");
    expect(lookup).not.toHaveBeenCalled();
    expect(simulator.snapshot().deliveries).toHaveLength(1);

    const literal = await deliver({ url: "http://169.254.169.254/", secrets }, { destination, connection: sandbox, fetch: simulator.fetch });
    expect(literal.outcome).toBe("rejected_client_error");
    expect(simulator.requests).toHaveLength(1);
  });

  it("a public host name goes through with the default checks", async () => {
    const result = await deliver({ url: "http://hooks.northstar.io/in", secrets }, { options: { lookup: publicLookup } });
    expect(result.outcome).toBe("delivered");
  });
});

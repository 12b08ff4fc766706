import { lookup as dnsLookup } from "node:dns/promises";
import { isIP, type LookupFunction as NodeLookupFunction } from "node:net";
import { AddressRefusedError } from "./errors.js";
import type { LookupFunction } from "./types.js";

/** Why an address is not public, e.g. `{ kind: "loopback" }`, with the embedded IPv4 when there is one. */
export interface AddressClass {
  kind: string;
  /** For IPv6 forms that embed an IPv4 address, e.g. `"IPv4-mapped 127.0.0.1"`. */
  via?: string;
}

type Range = [prefix: bigint, bits: number, kind: string];

const V4_RANGES: Array<[string, number, string]> = [
  ["169.254.169.254", 32, "cloud metadata"],
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private network"],
  ["100.64.0.0", 10, "carrier-grade NAT (shared)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private network"],
  ["192.0.0.0", 24, "reserved"],
  ["192.0.2.0", 24, "documentation"],
  ["192.168.0.0", 16, "private network"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation"],
  ["203.0.113.0", 24, "documentation"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];

const V6_RANGES: Array<[string, number, string]> = [
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["fd00:ec2::254", 128, "cloud metadata"],
  ["64:ff9b:1::", 48, "private network"],
  ["100::", 64, "reserved"],
  ["2001:db8::", 32, "documentation"],
  ["fc00::", 7, "private network"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "private network"],
  ["ff00::", 8, "multicast"],
];

const v4Ranges: Range[] = V4_RANGES.map(([address, bits, kind]) => [ipv4ToBigInt(address)!, bits, kind]);
const v6Ranges: Range[] = V6_RANGES.map(([address, bits, kind]) => [ipv6ToBigInt(address)!, bits, kind]);

/**
 * Classifies an IP address the SSRF guard refuses: loopback, private, link-local (with the cloud
 * metadata endpoints), unspecified, CGNAT, multicast, reserved and documentation ranges, and the
 * IPv6 forms that embed such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4).
 * Returns undefined for a public address (and for anything that is not an IP address).
 */
export function classifyAddress(address: string): AddressClass | undefined {
  const bare = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const version = isIP(bare);
  if (version === 4) return match(ipv4ToBigInt(bare)!, 32, v4Ranges);
  if (version !== 6) return undefined;
  const value = ipv6ToBigInt(bare);
  if (value === undefined) return undefined;
  const direct = match(value, 128, v6Ranges);
  if (direct) return direct;
  const embedded = (prefix: string, bits: number, shift: bigint, label: string): AddressClass | undefined => {
    if (!inRange(value, 128, ipv6ToBigInt(prefix)!, bits)) return undefined;
    const v4 = Number((value >> shift) & 0xffffffffn);
    const dotted = [v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255].join(".");
    const inner = match(BigInt(v4), 32, v4Ranges);
    if (inner) return { kind: inner.kind, via: `${label} ${dotted}` };
    return label === "IPv4-compatible" ? { kind: "reserved", via: `${label} ${dotted}` } : undefined;
  };
  return (
    embedded("::ffff:0:0", 96, 0n, "IPv4-mapped") ??
    embedded("::", 96, 0n, "IPv4-compatible") ??
    embedded("64:ff9b::", 96, 0n, "NAT64") ??
    embedded("2002::", 16, 80n, "6to4")
  );
}

/** Lower-case, without IPv6 brackets or a trailing dot; IPv6 in its canonical form. */
export function normalizeHost(host: string): string {
  const bare = host.trim().toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (isIP(bare) === 6) {
    try {
      return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
    } catch {
      return bare;
    }
  }
  return bare;
}

/** What the guard allows beyond public addresses. */
export interface GuardOptions {
  allowPrivateNetworks?: boolean;
  allowedHosts?: readonly string[];
  lookup?: LookupFunction;
}

/** The SSRF guard of one destination: checks a URL before a request and every address at connect time. */
export interface Guard {
  /**
   * Refuses non-http(s) URLs and non-public literal addresses; with `resolve`, also host names that
   * resolve to a non-public address. Throws `AddressRefusedError` (at once, or from the returned
   * promise after a DNS lookup); DNS failures are rethrown as they are. Only a lookup returns a
   * promise: the sandbox and literal addresses are checked without a turn of the event loop.
   */
  check(url: URL, options: { resolve: boolean }): Promise<void> | undefined;
  /** A `net` lookup that resolves with the guard's resolver and refuses non-public answers. */
  connectLookup: NodeLookupFunction;
}

const defaultLookup: LookupFunction = (hostname) => dnsLookup(hostname, { all: true });

/** Builds the SSRF guard for one `webhook()` destination. */
export function createGuard(options: GuardOptions = {}): Guard {
  const allowed = new Set((options.allowedHosts ?? []).map(normalizeHost));
  const resolve = options.lookup ?? defaultLookup;
  const open = options.allowPrivateNetworks === true;

  const refusal = (host: string, address: string, found: AddressClass) => {
    const via = found.via ? ` (${found.via})` : "";
    const kind = `${/^[aeiou]/.test(found.kind) ? "an" : "a"} ${found.kind} address`;
    const what = host === address ? `${address}${via}: it is ${kind}` : `${host}: it resolves to ${address}${via}, ${kind}`;
    return new AddressRefusedError(
      `refusing to deliver to ${what} (SSRF guard). If this receiver is meant to be reachable, ` +
        `pass allowedHosts: ["${host}"] (or allowPrivateNetworks: true) to webhook().`,
      { host, address },
    );
  };

  /** Refuses the first non-public address among `addresses` unless the host or that address is allowed. */
  const checkAddresses = (host: string, addresses: readonly string[]) => {
    if (open || allowed.has(host)) return;
    for (const address of addresses) {
      if (allowed.has(normalizeHost(address))) continue;
      const found = classifyAddress(address);
      if (found) throw refusal(host, address, found);
    }
  };

  return {
    check(url, { resolve: shouldResolve }) {
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new AddressRefusedError(
          `refusing to deliver to a ${url.protocol} URL: webhooks go to http: or https: URLs only`,
          { host: url.hostname, address: "" },
        );
      }
      const host = normalizeHost(url.hostname);
      if (open || allowed.has(host)) return;
      if (isIP(host)) {
        checkAddresses(host, [host]);
        return;
      }
      if (host === "localhost" || host.endsWith(".localhost")) {
        throw refusal(host, "127.0.0.1", { kind: "loopback" });
      }
      if (!shouldResolve) return;
      return resolve(host).then((answers) =>
        checkAddresses(
          host,
          answers.map((answer) => answer.address),
        ),
      );
    },

    connectLookup: ((hostname: string, lookupOptions: { family?: number | string; all?: boolean }, callback: (...args: unknown[]) => void) => {
      const host = normalizeHost(hostname);
      resolve(host).then(
        (answers) => {
          try {
            checkAddresses(
              host,
              answers.map((answer) => answer.address),
            );
          } catch (error) {
            callback(error);
            return;
          }
          const family = lookupOptions.family === "IPv4" ? 4 : lookupOptions.family === "IPv6" ? 6 : lookupOptions.family;
          const usable = family ? answers.filter((answer) => answer.family === family) : answers;
          if (usable.length === 0) {
            callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND", hostname }));
          } else if (lookupOptions.all) {
            callback(null, usable);
          } else {
            callback(null, usable[0]!.address, usable[0]!.family);
          }
        },
        (error: unknown) => callback(error),
      );
    }) as unknown as NodeLookupFunction,
  };
}

function match(value: bigint, width: number, ranges: Range[]): AddressClass | undefined {
  for (const [prefix, bits, kind] of ranges) if (inRange(value, width, prefix, bits)) return { kind };
  return undefined;
}

function inRange(value: bigint, width: number, prefix: bigint, bits: number): boolean {
  const shift = BigInt(width - bits);
  return value >> shift === prefix >> shift;
}

function ipv4ToBigInt(address: string): bigint | undefined {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) return undefined;
  return parts.reduce((sum, part) => (sum << 8n) | BigInt(part), 0n);
}

function ipv6ToBigInt(address: string): bigint | undefined {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4ToBigInt(dotted[1]!);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((group) => parseInt(group, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 1 ? fill !== 0 : fill < 0) return undefined;
  const groups = [...head, ...Array<number>(halves.length === 2 ? fill : 0).fill(0), ...rest];
  if (groups.some((group) => !Number.isInteger(group) || group < 0 || group > 0xffff)) return undefined;
  return groups.reduce((sum, group) => (sum << 16n) | BigInt(group), 0n);
}

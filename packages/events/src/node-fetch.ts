import http from "node:http";
import https from "node:https";

const NULL_BODY = new Set([101, 204, 205, 304]);

let agents: { http: http.Agent; https: https.Agent } | undefined;

/**
 * The `fetch` the Node entry sends batches with: `node:http(s)` on keep-alive sockets, the answer
 * buffered in memory. On Node 20 undici's `fetch` spends more CPU per request (streams,
 * `Request`, abort plumbing) than serializing the hundred events in it; this does not. It covers
 * what the transport sends (a string body or none, plain headers, a signal) and hands anything
 * else to the global `fetch`. Its answer has only what the transport reads (`BufferedResponse`).
 * Idle sockets are unref'd by the agent, so they never hold the process open.
 */
export const nodeFetch = ((input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
  if (typeof input !== "string" && !(input instanceof URL)) return globalThis.fetch(input, init);
  if (init.body != null && typeof init.body !== "string") return globalThis.fetch(input, init);
  const url = new URL(input);
  if (url.protocol !== "http:" && url.protocol !== "https:") return globalThis.fetch(input, init);
  const { signal } = init;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);

  return new Promise<Response>((resolve, reject) => {
    agents ??= { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
    const secure = url.protocol === "https:";
    const send = secure ? https.request : http.request;
    let settled = false;
    const settle = (error: unknown, response?: Response) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (response) resolve(response);
      else reject(error as Error);
    };
    const onAbort = () => {
      settle(signal!.reason);
      request.destroy();
    };
    const request = send(
      url,
      { method: init.method ?? "GET", headers: headersOf(init.headers), agent: secure ? agents.https : agents.http },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
        incoming.on("error", (error) => settle(error));
        incoming.on("end", () => {
          const status = incoming.statusCode ?? 0;
          if (status < 200 || status > 599) return settle(new TypeError(`the server answered with status ${status}`));
          const body = NULL_BODY.has(status) || init.method === "HEAD" ? null : Buffer.concat(chunks);
          settle(undefined, new BufferedResponse(body, status, incoming.statusMessage ?? "", incoming.headers) as unknown as Response);
        });
      },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (error) => settle(error));
    request.end(init.body ?? undefined);
  });
}) as typeof fetch;

/**
 * The answer as the transport reads it through ofetch: status, a header, the body as text or
 * JSON. An undici `Response` would set up a web stream (and a `Headers` would validate every
 * header) per request, for a body that is already in memory: about 12 % of the client's CPU in
 * the events benchmark.
 */
class BufferedResponse {
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null; has(name: string): boolean };
  constructor(
    readonly body: Buffer | null,
    readonly status: number,
    readonly statusText: string,
    // Node's parsed headers: lower-cased names, repeated values already joined (set-cookie aside).
    headers: http.IncomingHttpHeaders,
  ) {
    this.ok = status >= 200 && status < 300;
    const get = (name: string): string | null => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
    };
    this.headers = { get, has: (name) => get(name) !== null };
  }
  text(): Promise<string> {
    return Promise.resolve(this.body ? this.body.toString("utf8") : "");
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text()) as unknown;
  }
}

function headersOf(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!init) return out;
  const pairs = Symbol.iterator in init ? (init as Iterable<[string, string]>) : Object.entries(init);
  for (const [name, value] of pairs) out[name.toLowerCase()] = value;
  return out;
}

const platformFetch = globalThis.fetch;

/**
 * The Node entry's default: `nodeFetch` while `globalThis.fetch` is still the platform's own, and
 * whatever replaced it otherwise (a test's stub, an interceptor), as the global default would.
 */
export const defaultNodeFetch = ((input: RequestInfo | URL, init?: RequestInit) =>
  globalThis.fetch === platformFetch ? nodeFetch(input, init) : globalThis.fetch(input, init)) as typeof fetch;

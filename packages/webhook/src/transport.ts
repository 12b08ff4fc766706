import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupFunction as NodeLookupFunction } from "node:net";

/** Response bodies past this are cut: a receiver's answer only feeds the attempt summary. */
const MAX_RESPONSE_BYTES = 1024 * 1024;
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A minimal `fetch` over `node:http`/`node:https` whose connections resolve host names through
 * `lookup`, so the SSRF guard checks the very address the socket connects to (no DNS-rebinding
 * window between the check and the connection). It never follows redirects, and reads at most
 * 1 MiB of a response body.
 */
export function createPinnedFetch(lookup: NodeLookupFunction): typeof fetch {
  // Own keep-alive pools: a socket checked under this guard's policy is never reused by another's.
  let agents: { http: http.Agent; https: https.Agent } | undefined;
  return async function pinnedFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`cannot send a request to a ${url.protocol} URL`);
    }
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    if (body) headers["content-length"] = String(body.byteLength);
    const signal = request.signal;
    signal.throwIfAborted();

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        outgoing.destroy();
        reject(error);
      };
      const onAbort = () => fail(signal.reason);
      // Looked up at call time (not bound at import) so interceptors such as msw see the request.
      const secure = url.protocol === "https:";
      const send = secure ? https.request : http.request;
      agents ??= { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
      const agent = secure ? agents.https : agents.http;
      const outgoing = send(url, { method: request.method, headers, lookup, agent }, (incoming: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          if (settled) return;
          settled = true;
          signal.removeEventListener("abort", onAbort);
          const status = incoming.statusCode ?? 0;
          if (status < 200 || status > 599) {
            reject(new TypeError(`the server answered with an invalid status ${status}`));
            return;
          }
          const responseHeaders = new Headers();
          const raw = incoming.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2) {
            try {
              responseHeaders.append(raw[i]!, raw[i + 1]!);
            } catch {
              // A header the Fetch API cannot hold; the attempt summary does without it.
            }
          }
          resolve(
            new Response(NULL_BODY_STATUSES.has(status) || request.method === "HEAD" ? null : Buffer.concat(chunks), {
              status,
              statusText: incoming.statusMessage ?? "",
              headers: responseHeaders,
            }),
          );
        };
        incoming.on("data", (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size <= MAX_RESPONSE_BYTES) {
            chunks.push(chunk);
            return;
          }
          finish();
          incoming.destroy();
        });
        incoming.on("end", finish);
        incoming.on("error", fail);
        incoming.on("close", () => {
          if (!incoming.complete) fail(new Error("the connection closed before the response ended"));
        });
      });
      signal.addEventListener("abort", onAbort, { once: true });
      outgoing.on("error", fail);
      outgoing.end(body);
    });
  } as typeof fetch;
}

import http from "node:http";
import https from "node:https";

const NULL_BODY = new Set([101, 204, 205, 304]);

let agents: { http: http.Agent; https: https.Agent } | undefined;

/**
 * The `fetch` the Node entry sends batches with: `node:http(s)` on keep-alive sockets, the answer
 * buffered into a `Response`. On Node 20 undici's `fetch` spends more CPU per request (streams,
 * `Request`, abort plumbing) than serializing the hundred events in it; this does not. It covers
 * what the transport sends (a string body or none, plain headers, a signal) and hands anything
 * else to the global `fetch`. Idle sockets are unref'd by the agent, so they never hold the
 * process open.
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
          const headers = new Headers();
          const raw = incoming.rawHeaders;
          for (let i = 0; i + 1 < raw.length; i += 2) {
            try {
              headers.append(raw[i]!, raw[i + 1]!);
            } catch {
              // A header value the Fetch API refuses; the transport reads none of those.
            }
          }
          const body = NULL_BODY.has(status) || init.method === "HEAD" ? null : Buffer.concat(chunks);
          settle(undefined, new Response(body, { status, statusText: incoming.statusMessage ?? "", headers }));
        });
      },
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (error) => settle(error));
    request.end(init.body ?? undefined);
  });
}) as typeof fetch;

function headersOf(init: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!init) return out;
  if (init instanceof Headers || Array.isArray(init)) {
    for (const [name, value] of init instanceof Headers ? init.entries() : init) out[name.toLowerCase()] = value!;
  } else {
    for (const name of Object.keys(init)) out[name.toLowerCase()] = init[name]!;
  }
  return out;
}

const platformFetch = globalThis.fetch;

/**
 * The Node entry's default: `nodeFetch` while `globalThis.fetch` is still the platform's own, and
 * whatever replaced it otherwise (a test's stub, an interceptor), as the global default would.
 */
export const defaultNodeFetch = ((input: RequestInfo | URL, init?: RequestInit) =>
  globalThis.fetch === platformFetch ? nodeFetch(input, init) : globalThis.fetch(input, init)) as typeof fetch;

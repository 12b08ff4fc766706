// Serves a fetch handler on 127.0.0.1 (port 0) with node:http, so a test can wrap the server's
// handler (delay or count requests) before the browser reaches it.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

async function toRequest(req: IncomingMessage, base: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const body = chunks.length ? Buffer.concat(chunks) : undefined;
  return new Request(new URL(req.url ?? "/", base), { method: req.method, headers, ...(body && req.method !== "GET" && req.method !== "HEAD" && { body }) });
}

/** Listens on 127.0.0.1:0; answers the base URL and a `close`. */
export async function serveFetch(handler: (request: Request) => Promise<Response>): Promise<{ url: string; close: () => Promise<void> }> {
  let url = "";
  const server = createServer((req, res) => {
    toRequest(req, url)
      .then(handler)
      .then(async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers));
        res.end(Buffer.from(await response.arrayBuffer()));
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

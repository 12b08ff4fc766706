import type { Hono } from "hono";
import type { SimulatedRequest, Simulator, SimulatorFault } from "./types.js";

/** What a vendor simulator supplies: a Hono app that models the API, and a view of its state. */
export interface SimulatorOptions<TSnapshot> {
  type: string;
  app: Hono;
  snapshot: () => TSnapshot;
}

/**
 * Turns a Hono app modelling a vendor API into a `Simulator`: requests are recorded and
 * injected faults (status, headers, body, or a hang) answer before the app does. The host of
 * the URL is ignored, so the adapter's real base URL works unchanged.
 */
export function createSimulator<TSnapshot>(options: SimulatorOptions<TSnapshot>): Simulator<TSnapshot> {
  const requests: SimulatedRequest[] = [];
  const faults: SimulatorFault[] = [];

  const simulatorFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const body = init?.body;
    const request =
      input instanceof Request || (body != null && typeof body !== "string")
        ? new Request(input, { ...init, signal: null })
        : lightRequest(typeof input === "string" ? input : input.href, init?.method ?? "GET", headersOf(init?.headers), body ?? "");
    const recorded: SimulatedRequest = {
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: typeof body === "string" ? body : body == null && !(input instanceof Request) ? "" : await request.clone().text(),
    };
    requests.push(recorded);

    const index = faults.findIndex((fault) => !fault.match || fault.match(recorded));
    if (index !== -1) {
      const fault = faults[index]!;
      if ((fault.times ?? 1) <= 1) faults.splice(index, 1);
      else fault.times = (fault.times ?? 1) - 1;
      if (fault.hang) return hang(signal ?? request.signal);
      const faultBody = typeof fault.body === "string" ? fault.body : JSON.stringify(fault.body ?? {});
      const type = typeof fault.body === "string" ? "text/plain" : "application/json";
      return new Response(faultBody, { status: fault.status ?? 500, headers: { "content-type": type, ...fault.headers } });
    }
    signal?.throwIfAborted();
    return options.app.fetch(request);
  };

  return {
    type: options.type,
    fetch: simulatorFetch as typeof fetch,
    requests,
    inject: (fault) => faults.push({ ...fault }),
    snapshot: options.snapshot,
  };
}

/** ofetch already hands over a `Headers`: used as it is rather than copied. */
const headersOf = (init: HeadersInit | undefined): Headers => (init instanceof Headers ? init : new Headers(init));

/**
 * What a Hono app reads of a request (url, method, headers, body as text or JSON), without undici
 * building a `Request` and a body stream for every simulated call: on Node 20 that costs more than
 * the simulated API itself. Anything else falls back to a real `Request`, built on first use.
 */
function lightRequest(url: string, method: string, headers: Headers, body: string): Request {
  let real: Request | undefined;
  const toRequest = () => (real ??= new Request(url, { method, headers, ...(body && { body }) }));
  const light = {
    url,
    method,
    headers,
    text: () => Promise.resolve(body),
    json: () => Promise.resolve().then(() => JSON.parse(body) as unknown),
    arrayBuffer: () => toRequest().arrayBuffer(),
    blob: () => toRequest().blob(),
    formData: () => toRequest().formData(),
    clone: () => toRequest().clone(),
  };
  return light as unknown as Request;
}

function hang(signal: AbortSignal | null | undefined): Promise<Response> {
  return new Promise((_resolve, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

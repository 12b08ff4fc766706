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
    // The signal stays out of the Request: undici would register a listener on it per request.
    const { signal, ...rest } = init ?? {};
    const request = input instanceof Request ? input : new Request(input, rest);
    const body =
      typeof rest.body === "string" ? rest.body : rest.body == null && request.body === null ? "" : await request.clone().text();
    const recorded: SimulatedRequest = {
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body,
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

function hang(signal: AbortSignal | null): Promise<Response> {
  return new Promise((_resolve, reject) => {
    if (!signal) return;
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

// The entry Node resolves (the "node" export condition): the same API as the default entry, with
// hosted requests sent over node:http keep-alive sockets (see node-fetch.ts) unless `fetch` is given.
import { createClient as createPortableClient } from "./client.js";
import { EventsClient as PortableEventsClient, type EventsClientOptions } from "./events-client.js";
import { defaultNodeFetch } from "./node-fetch.js";

export * from "./index.js";

/** `createClient` of the default entry; hosted clients send with `node:http` unless given a `fetch`. */
export const createClient: typeof createPortableClient = (options) => {
  const hosted = typeof options === "object" && options !== null && options.endpoint !== undefined && options.fetch === undefined;
  return createPortableClient(hosted ? ({ ...options, fetch: defaultNodeFetch } as typeof options) : options);
};

/** `EventsClient` of the default entry, sending with `node:http` unless given a `fetch`. */
export class EventsClient extends PortableEventsClient {
  constructor(publishableKey: string, options: EventsClientOptions = {}) {
    super(publishableKey, typeof options === "object" && options !== null && options.fetch === undefined ? { ...options, fetch: defaultNodeFetch } : options);
  }
}
export { EventsClient as MeshesEventsClient };

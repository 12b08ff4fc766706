import type { EventQueue, QueuedEvent } from "./types.js";

/**
 * An `EventQueue` that keeps events in a Map: what the client does by default, made explicit.
 * Handing the same instance to a new client in the same process carries unsent events over.
 */
export function memoryQueue(): EventQueue & { readonly size: number } {
  const events = new Map<string, string>();
  return {
    load: (): QueuedEvent[] => Array.from(events, ([id, body]) => ({ id, body })),
    add(event) {
      events.set(event.id, event.body);
    },
    remove(ids) {
      for (const id of ids) events.delete(id);
    },
    get size() {
      return events.size;
    },
  };
}

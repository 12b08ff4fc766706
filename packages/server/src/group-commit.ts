import type { InsertResult, NewEvent, Store } from "@meshwork/rules";

const MAX_BATCH = 5000;

/**
 * Group commit for ingest: `insertEvents` calls that arrive in the same turn of the event loop
 * (concurrent requests) go to the store as one call, so a durable store commits them in one
 * transaction instead of one each. Each caller still resolves only after the commit that holds
 * its events, with its own results; a failed commit fails every caller in it.
 */
export function groupCommit(inner: Store): Store {
  let pending: { items: NewEvent[]; waiters: Array<{ start: number; count: number; resolve: (r: InsertResult[]) => void; reject: (e: unknown) => void }> } | undefined;

  const flush = () => {
    const batch = pending;
    pending = undefined;
    if (!batch) return;
    inner.insertEvents(batch.items).then(
      (results) => {
        for (const w of batch.waiters) w.resolve(results.slice(w.start, w.start + w.count));
      },
      (error: unknown) => {
        for (const w of batch.waiters) w.reject(error);
      },
    );
  };

  const insertEvents: Store["insertEvents"] = (items) =>
    new Promise((resolve, reject) => {
      if (!pending) {
        pending = { items: [], waiters: [] };
        setImmediate(flush);
      }
      pending.waiters.push({ start: pending.items.length, count: items.length, resolve, reject });
      for (const item of items) pending.items.push(item);
      if (pending.items.length >= MAX_BATCH) flush();
    });

  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "insertEvents") return insertEvents;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

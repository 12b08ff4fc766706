import type { ActionDefinition, Destination, PerformContext } from "@meshwork/destination-kit";
import type { Store } from "@meshwork/rules";
import type { Logger } from "pino";

const TERMINAL = new Set(["completed", "failed", "canceled"]);

/**
 * Write-ahead for attempts. The engine marks a delivery `processing` and writes that change in
 * its next group commit, but starts the attempt at once, so a crash can land after the request
 * left and before the commit: the restart then sees a `pending` delivery and sends it again
 * without recording that it was interrupted. This gate holds each attempt's request until the
 * store has committed the attempt's start (a delivery row with that `attempt_count`), so every
 * repeat after a crash is an interrupted `processing` attempt on record. It costs one group
 * commit of latency per attempt. After `maxWaitMs` (a store that keeps failing) the attempt goes
 * ahead anyway, with a warning.
 */
export function createAttemptGate(log: Logger, options: { maxWaitMs?: number } = {}) {
  const maxWaitMs = options.maxWaitMs ?? 10_000;
  const committed = new Map<string, number>();
  const waiters = new Map<string, Array<{ attempt: number; resolve: () => void }>>();

  function onCommitted(rows: ReadonlyArray<{ idempotency_key: string; attempt_count: number; status: string }>): void {
    for (const row of rows) {
      const key = row.idempotency_key;
      if (TERMINAL.has(row.status)) committed.delete(key);
      else if ((committed.get(key) ?? 0) < row.attempt_count) committed.set(key, row.attempt_count);
      const list = waiters.get(key);
      if (!list) continue;
      const still = list.filter((w) => {
        if (w.attempt > row.attempt_count) return true;
        w.resolve();
        return false;
      });
      if (still.length) waiters.set(key, still);
      else waiters.delete(key);
    }
  }

  async function admit(context: PerformContext<any, any>): Promise<void> {
    const key = context.idempotencyKey;
    if ((committed.get(key) ?? 0) >= context.attempt) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const entry = { attempt: context.attempt, resolve: () => {} };
    const waited = new Promise<boolean>((resolve) => {
      entry.resolve = () => resolve(true);
      timer = setTimeout(() => resolve(false), maxWaitMs);
      timer.unref?.();
    });
    const list = waiters.get(key);
    if (list) list.push(entry);
    else waiters.set(key, [entry]);
    const ok = await waited;
    clearTimeout(timer);
    if (!ok) {
      const rest = waiters.get(key)?.filter((w) => w !== entry);
      if (rest?.length) waiters.set(key, rest);
      else waiters.delete(key);
      log.warn({ delivery: key, attempt: context.attempt, waited_ms: maxWaitMs }, "the store did not commit an attempt's start in time; sending it anyway");
    }
    context.signal.throwIfAborted();
  }

  return {
    /** The store, reporting each committed delivery change to the gate. */
    store(inner: Store): Store {
      const write: Store["write"] = async (batch) => {
        await inner.write(batch);
        onCommitted(batch.deliveries);
      };
      return new Proxy(inner, {
        get(target, prop) {
          if (prop === "write") return write;
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
    /** The destination, each action waiting for the gate before it performs. */
    destination(inner: Destination): Destination {
      const actions: Record<string, ActionDefinition<any, any>> = {};
      for (const [id, action] of Object.entries(inner.actions)) {
        actions[id] = {
          ...action,
          perform: async (context: PerformContext<any, any>) => {
            await admit(context);
            return action.perform(context);
          },
        };
      }
      return Object.freeze({ ...inner, actions }) as Destination;
    },
    /** Open entries, for tests. */
    size: () => committed.size + waiters.size,
  };
}

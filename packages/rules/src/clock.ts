import type { Clock, TestClock } from "./types.js";

/** The wall clock; its timers are unref'd so they never keep a Node process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, ms));
    timer.unref?.();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A manual clock for tests: time moves only when you call `advance` / `advanceTo`, which run
 * the timers that come due, in order. Pass it to `createEngine({ clock })` and use
 * `engine.drain({ advanceClock: true })` to run a whole retry schedule in milliseconds.
 *
 * @example
 * const clock = createTestClock({ now: Date.parse("2026-01-01T00:00:00Z") });
 * const engine = createEngine({ config, destinations, clock });
 * await engine.drain({ advanceClock: true });
 */
export function createTestClock(options: { now?: number } = {}): TestClock {
  let current = options.now ?? 0;
  let nextId = 1;
  const timers: Timer[] = [];

  const runDue = (until: number) => {
    for (;;) {
      let index = -1;
      for (let i = 0; i < timers.length; i++) {
        const timer = timers[i]!;
        if (timer.at <= until && (index === -1 || timer.at < timers[index]!.at)) index = i;
      }
      if (index === -1) break;
      const [timer] = timers.splice(index, 1);
      current = Math.max(current, timer!.at);
      timer!.fn();
    }
    current = Math.max(current, until);
  };

  return {
    isTestClock: true,
    now: () => current,
    setTimeout(fn, ms) {
      const timer = { id: nextId++, at: current + Math.max(0, ms), fn };
      timers.push(timer);
      return timer.id;
    },
    clearTimeout(handle) {
      const index = timers.findIndex((t) => t.id === handle);
      if (index !== -1) timers.splice(index, 1);
    },
    advance: (ms) => runDue(current + ms),
    advanceTo: (time) => runDue(time),
    nextTimerAt: () => (timers.length ? Math.min(...timers.map((t) => t.at)) : undefined),
    pendingTimers: () => timers.length,
  };
}

/** True for a clock made by `createTestClock` (or anything shaped like one). */
export function isTestClock(clock: Clock): clock is TestClock {
  return (clock as Partial<TestClock>).isTestClock === true && typeof (clock as TestClock).advanceTo === "function";
}

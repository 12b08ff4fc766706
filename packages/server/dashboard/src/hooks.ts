import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  /** Loads again now. */
  reload: () => void;
}

/**
 * Loads with `load` whenever `key` changes, then every `intervalMs` while `live` and the page is
 * visible. Answers from an older key are dropped; the last data stays on screen while reloading.
 */
export function usePoll<T>(load: () => Promise<T>, key: string, intervalMs: number, live = true): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean; key: string }>({ loading: true, key });
  const version = useRef(0);
  const loader = useRef(load);
  loader.current = load;

  const run = useCallback(() => {
    const mine = ++version.current;
    setState((s) => ({ ...s, loading: true }));
    loader.current().then(
      (data) => {
        if (mine === version.current) setState({ data, loading: false, key });
      },
      (error: unknown) => {
        if (mine === version.current) setState((s) => ({ ...s, error: error instanceof Error ? error.message : String(error), loading: false, key }));
      },
    );
  }, [key]);

  useEffect(() => {
    setState((s) => (s.key === key ? s : { loading: true, key }));
    run();
    if (!live) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") run();
    }, intervalMs);
    return () => clearInterval(timer);
  }, [run, intervalMs, live]);

  const current = state.key === key;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, loading: state.loading, reload: run };
}

/** Moves focus to the page's heading when the page changes, so screen readers announce it. */
export function useFocusHeading(key: string) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    ref.current?.focus({ preventScroll: true });
  }, [key]);
  return ref;
}

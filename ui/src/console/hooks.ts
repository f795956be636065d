// Small hooks the console's panels share: polling a hub endpoint, and running a button's
// action with a pending flag and a plain error message.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { HubError, errorMessage } from "../lib/api-error";

export interface Polled<T> {
  data: T | null;
  error: string | null;
  /** The last failure was the hub refusing the admin token. */
  unauthorized: boolean;
  /** Fetch again now. */
  refresh: () => void;
}

/** Calls `load` now and every `everyMs` (not while the tab is hidden). */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, enabled = true): Polled<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const loadRef = useRef(load);
  loadRef.current = load;
  const running = useRef(false);

  const refresh = useCallback(() => {
    if (running.current) return;
    running.current = true;
    loadRef
      .current()
      .then(
        (value) => {
          setData(value);
          setError(null);
          setUnauthorized(false);
        },
        (failure: unknown) => {
          setError(errorMessage(failure));
          setUnauthorized(failure instanceof HubError && failure.code === "unauthorized");
        },
      )
      .finally(() => {
        running.current = false;
      });
  }, []);

  useEffect(() => {
    if (!enabled) return;
    refresh();
    const timer = setInterval(() => {
      if (document.visibilityState !== "hidden") refresh();
    }, everyMs);
    return () => clearInterval(timer);
  }, [enabled, everyMs, refresh]);

  return { data, error, unauthorized, refresh };
}

export interface Action {
  pending: boolean;
  error: string | null;
  run: (work: () => Promise<unknown>) => Promise<boolean>;
  clear: () => void;
}

/** A button's action: one at a time, its failure kept as a sentence to show. */
export function useAction(): Action {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (work: () => Promise<unknown>) => {
    setPending(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (failure) {
      setError(errorMessage(failure));
      return false;
    } finally {
      setPending(false);
    }
  }, []);
  return { pending, error, run, clear: () => setError(null) };
}

/** Re-renders every `everyMs` (countdowns). */
export function useTicker(everyMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

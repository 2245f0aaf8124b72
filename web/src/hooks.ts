import { useCallback, useEffect, useRef, useState } from 'react';

export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads `load()` now and again every `intervalMs` (0: once), dropping answers that arrive after the inputs
 * changed. The latest good data stays on screen while a later poll fails.
 */
export function usePoll<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], intervalMs = 0): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    setData(undefined);
    setLoading(true);
  }, deps);

  useEffect(() => {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const v = await loadRef.current(ctl.signal);
        if (ctl.signal.aborted) return;
        setData(v);
        setError(undefined);
      } catch (err) {
        if (ctl.signal.aborted) return;
        setError((err as Error).message);
      } finally {
        if (!ctl.signal.aborted) {
          setLoading(false);
          if (intervalMs > 0) timer = setTimeout(run, intervalMs);
        }
      }
    };
    void run();
    return () => {
      ctl.abort();
      clearTimeout(timer);
    };
  }, [...deps, tick, intervalMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

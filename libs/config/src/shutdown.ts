/** What a process's main does when asked to stop. */
export interface StopOnSignalsOptions {
  /** The graceful shutdown; run once, whatever number of signals arrive. */
  readonly stop: () => Promise<void>;
  /** Past this the shutdown is given up and the process exits 1 (a hung close must not hang forever). */
  readonly timeoutMs?: number;
  readonly log?: (message: string) => void;
  readonly signals?: readonly NodeJS.Signals[];
  /** Seam for tests; process.exit by default. */
  readonly exit?: (code: number) => void;
}

/**
 * Stops once on SIGINT or SIGTERM and exits 0; returns a function that stops listening. A terminal's Ctrl-C reaches every process in the
 * foreground group, and a launcher (npm, scripts/start.mjs) may pass it on as well, so one key press
 * can arrive two or three times: later signals never cut the shutdown short (with `process.once` the
 * second one would kill the process mid-shutdown and leave the embedded database's lock behind).
 */
export function stopOnSignals(o: StopOnSignalsOptions): () => void {
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const timeoutMs = o.timeoutMs ?? 30_000;
  let stopping: { at: number; signal: NodeJS.Signals } | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      // The same key press reaching us by another path arrives within moments; say nothing then.
      if (Date.now() - stopping.at > 1000) log(`${signal} again: still stopping, please wait`);
      return;
    }
    stopping = { at: Date.now(), signal };
    log(`${signal}: stopping…`);
    const timer = setTimeout(() => {
      log(`shutdown did not finish within ${timeoutMs} ms; exiting`);
      exit(1);
    }, timeoutMs);
    timer.unref();
    o.stop().then(
      () => {
        clearTimeout(timer);
        exit(0);
      },
      (err: unknown) => {
        clearTimeout(timer);
        log(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
        exit(1);
      },
    );
  };
  const signals = o.signals ?? ['SIGINT', 'SIGTERM'];
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

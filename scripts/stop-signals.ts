/** A SIGINT this long after the first stop signal is a second Ctrl-C, not the first one relayed. */
const SECOND_CTRL_C_MS = 1_000;

/**
 * Calls `stop` once, on the first SIGINT or SIGTERM. One Ctrl-C arrives several times (the terminal
 * signals the whole process group, `npm` relays it, `npm start` sends its children SIGTERM): those
 * all land within milliseconds and are ignored. A SIGINT a second or more later is the person
 * pressing Ctrl-C again: `force` runs, and the process should exit with 130 (128 + SIGINT).
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void, force: () => void): void {
  let first: number | undefined;
  const handle = (signal: NodeJS.Signals) => {
    if (first === undefined) {
      first = Date.now();
      stop(signal);
    } else if (signal === 'SIGINT' && Date.now() - first >= SECOND_CTRL_C_MS) force();
  };
  process.on('SIGINT', handle);
  process.on('SIGTERM', handle);
}

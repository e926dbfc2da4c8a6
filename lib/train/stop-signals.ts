/**
 * Ctrl-C (SIGINT) and SIGTERM as a request to stop at the next safe point: the first signal is
 * recorded (and aborts `signal`) so that a long loop can finish the step in flight and save its
 * state; a second one exits at once with the shell's code for it, 128 + the signal's number.
 *
 * The listeners stay installed after the first signal rather than restoring the default action:
 * two quick presses during one blocking native call reach JavaScript together, and with the
 * listener gone the second would be dropped and the process would not quit.
 */
import * as os from 'node:os';

export type StopSignal = 'SIGINT' | 'SIGTERM';

const SIGNALS: readonly StopSignal[] = ['SIGINT', 'SIGTERM'];

/** The exit status a shell reports for a process ended by `signal`: 130 for SIGINT. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + os.constants.signals[signal];
}

export class StopSignals {
  /** The first signal received, or null. */
  received: StopSignal | null = null;
  private readonly controller = new AbortController();
  private readonly listeners = new Map<StopSignal, () => void>();

  /** `onFirst` says what stopping will do (it is printed; the user decides whether to press again). */
  constructor(onFirst: (signal: StopSignal) => void) {
    for (const name of SIGNALS) {
      const listener = () => {
        if (this.received) process.exit(signalExitCode(name));
        this.received = name;
        this.controller.abort();
        onFirst(name);
      };
      this.listeners.set(name, listener);
      process.on(name, listener);
    }
  }

  /** Aborted on the first signal, for APIs that take an AbortSignal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Removes the listeners: signals get their default action again. */
  dispose(): void {
    for (const [name, listener] of this.listeners) process.off(name, listener);
    this.listeners.clear();
  }
}

/**
 * Progress of a long loop: a redrawn bar with rate and ETA on a terminal, and a plain line every
 * tenth of the way when the output is a file or a pipe (so logs stay readable).
 */

export interface ProgressOptions {
  /** Draw a bar that redraws in place. @default process.stderr.isTTY */
  tty?: boolean;
  /** Where to write. @default process.stderr */
  stream?: NodeJS.WritableStream;
  /** Unit of the rate, e.g. 'img'. @default 'it' */
  unit?: string;
  /** Write nothing. @default false */
  silent?: boolean;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private readonly start = performance.now();
  private readonly tty: boolean;
  private readonly stream: NodeJS.WritableStream;
  private readonly unit: string;
  private readonly silent: boolean;
  private lastDecile = -1;
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.tty = options.tty ?? Boolean((this.stream as NodeJS.WriteStream).isTTY);
    this.silent = options.silent ?? false;
    this.unit = options.unit ?? 'it';
  }

  /** `done` units of `total` are complete; `suffix` is appended (e.g. the running loss). */
  update(done: number, suffix = ''): void {
    if (this.silent) return;
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = done / Math.max(elapsed, 1e-9);
    const eta = (this.total - done) / rate;
    const fraction = Math.min(1, done / this.total);
    const stats = `${done}/${this.total} ${rate.toFixed(1)} ${this.unit}/s ETA ${formatDuration(eta)} ${suffix}`;
    if (this.tty) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round(fraction * width);
      const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
      this.stream.write(`\r\x1b[2K${this.label} ${bar} ${stats}`);
    } else {
      const decile = Math.floor(fraction * 10);
      if (decile > this.lastDecile && decile > 0) {
        this.lastDecile = decile;
        this.stream.write(`${this.label} ${Math.round(fraction * 100)}% ${stats}\n`);
      }
    }
  }

  /** Ends the bar's line on a terminal. */
  finish(): void {
    if (this.tty && !this.silent) this.stream.write('\n');
  }
}

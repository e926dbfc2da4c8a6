/**
 * The built command-line tools (dist/scripts) run as child processes, for what only a separate
 * process can show: exit codes, and real signals reaching a process busy training.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'dist', 'scripts', 'train.js');
export const SERVE_CLI = path.join(ROOT, 'dist', 'scripts', 'serve.js');

/** Fails when dist/ is missing or older than the sources, rather than testing stale code. */
export function expectFreshBuild(): void {
  const built = fs.existsSync(CLI) ? fs.statSync(CLI).mtimeMs : 0;
  const sources = ['lib', 'scripts'].flatMap((dir) =>
    (fs.readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(ROOT, dir, f)),
  );
  const newer = sources.filter((f) => fs.statSync(f).mtimeMs > built);
  if (newer.length > 0) {
    throw new Error(
      `${CLI} is missing or older than ${newer[0]}: run npx tsc -p tsconfig.build.json first`,
    );
  }
}

/**
 * A built CLI (`npm run train` unless `script` says otherwise) in a child process, its output
 * (stdout and stderr) collected as it comes.
 */
export class CliProcess {
  readonly child: ChildProcess;
  output = '';
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;

  /**
   * `script` is the CLI to run (train by default). `fileSizeLimitKiB` runs it under bash's
   * `ulimit -f` (KiB in bash; dash counts 512-byte blocks), a limit of the child alone: a write
   * past that size fails with EFBIG (Node ignores SIGXFSZ), as a write to a full disk fails with
   * ENOSPC. `launcher` runs it under another command (mpirun and its flags), with `env`.
   * `ownProcessGroup` makes the child lead a process group of its own, as a shell runs a
   * foreground job: a terminal's Ctrl-C is SIGINT to that group (`process.kill(-pid)`).
   */
  constructor(
    args: string[],
    options: {
      script?: string;
      fileSizeLimitKiB?: number;
      launcher?: string[];
      env?: NodeJS.ProcessEnv;
      ownProcessGroup?: boolean;
    } = {},
  ) {
    const script = options.script ?? CLI;
    const limit = options.fileSizeLimitKiB;
    const [command, argv] =
      limit === undefined
        ? [process.execPath, [script, ...args]]
        : [
            'bash',
            ['-c', `ulimit -f ${limit} && exec "$0" "$@"`, process.execPath, script, ...args],
          ];
    const [program, ...programArgs] = [...(options.launcher ?? []), command, ...argv];
    this.child = spawn(program, programArgs, {
      cwd: ROOT,
      env: options.env ?? process.env,
      detached: options.ownProcessGroup ?? false,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk) => {
      this.output += chunk;
    });
    this.child.stderr!.on('data', (chunk) => {
      this.output += chunk;
    });
    this.exit = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() }));
    });
  }

  /**
   * Resolves as soon as the output matches `pattern` (on the chunk that completes it, so a signal
   * sent next reaches the child promptly); rejects if the process ends first.
   */
  waitFor(pattern: RegExp): Promise<void> {
    return new Promise((resolve, reject) => {
      const streams = [this.child.stdout!, this.child.stderr!];
      const check = () => {
        if (!pattern.test(this.output)) return;
        for (const stream of streams) stream.off('data', check);
        resolve();
      };
      for (const stream of streams) stream.on('data', check);
      this.exit.then(() => reject(new Error(`exited before printing ${pattern}:\n${this.output}`)));
      check();
    });
  }
}

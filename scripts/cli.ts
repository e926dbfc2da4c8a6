/**
 * Shared plumbing of the command-line tools: flag parsing with typed values and errors that
 * name the flag, and a main() wrapper that prints one line for expected errors (no stack).
 */
import { parseArgs } from 'node:util';
import { AlexNetError } from '../lib/errors';

export interface FlagSpec {
  type: 'string' | 'boolean';
  description: string;
  /** The value when the flag is absent; --help shows it. */
  default?: string | boolean;
  /**
   * What --help shows as the default when the command works it out at run time ('one per core',
   * 'runs/<date-time>'); such a flag has no value when absent.
   */
  defaultText?: string;
  placeholder?: string;
}

export type Flags = Record<string, FlagSpec>;

export function helpText(usage: string, flags: Flags): string {
  const rows = Object.entries(flags).map(([name, spec]) => {
    const left = `  --${name}${spec.type === 'string' ? ` <${spec.placeholder ?? 'value'}>` : ''}`;
    const shown = spec.defaultText ?? spec.default;
    const def = shown !== undefined && shown !== false ? ` (default: ${shown})` : '';
    return `${left.padEnd(30)} ${spec.description}${def}`;
  });
  return `${usage}\n\nOptions:\n${rows.join('\n')}\n`;
}

/** The flags of one command line, as parseFlags returns them. */
export type ParsedFlags = ReturnType<typeof parseFlags>;

export function parseFlags(argv: string[], flags: Flags, usage: string) {
  const options = Object.fromEntries(
    Object.entries(flags).map(([name, spec]) => [name, { type: spec.type }]),
  );
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new AlexNetError(`${(error as Error).message}\n\n${helpText(usage, flags)}`);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(usage, flags));
    process.exit(0);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  return {
    positionals: parsed.positionals,
    string(name: string): string | undefined {
      const v = values[name] ?? flags[name].default;
      return v === undefined ? undefined : String(v);
    },
    flag(name: string): boolean {
      return Boolean(values[name] ?? flags[name].default);
    },
    given(name: string): boolean {
      return values[name] !== undefined;
    },
    number(name: string, check: (n: number) => boolean, expected: string): number | undefined {
      const raw = values[name] ?? flags[name].default;
      if (raw === undefined) return undefined;
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n) || !check(n)) {
        throw new AlexNetError(`Expected ${expected} for --${name} but received '${raw}'`);
      }
      return n;
    },
    /** A comma-separated list of numbers, each passing `check` (`expected` names the list). */
    numbers(name: string, check: (n: number) => boolean, expected: string): number[] | undefined {
      const raw = values[name] ?? flags[name].default;
      if (raw === undefined) return undefined;
      const items = String(raw).split(',');
      const ns = items.map((item) => (item.trim() === '' ? Number.NaN : Number(item)));
      if (!ns.every((n) => Number.isFinite(n) && check(n))) {
        throw new AlexNetError(`Expected ${expected} for --${name} but received '${raw}'`);
      }
      return ns;
    },
  };
}

/** Runs a CLI's main, printing expected errors as one line and exiting 1. */
export function run(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (error instanceof AlexNetError) {
      process.stderr.write(`error: ${error.message}\n`);
    } else {
      process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    }
    process.exit(1);
  });
}

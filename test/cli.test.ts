/**
 * The command-line plumbing (scripts/cli.ts): what --help shows as a flag's default, kept apart
 * from the value the flag has when absent, and --help itself on the built CLI.
 */
import { spawnSync } from 'node:child_process';
import { type Flags, helpText, parseFlags } from '../scripts/cli';
import { CLI, expectFreshBuild } from './util/built-cli';

const FLAGS: Flags = {
  'batch-size': { type: 'string', description: 'images per step', default: '16', placeholder: 'n' },
  workers: {
    type: 'string',
    description: 'decoding threads',
    defaultText: 'one per core',
    placeholder: 'n',
  },
  resume: { type: 'boolean', description: 'continue' },
};

describe('flags', () => {
  test('a default is the value when the flag is absent, and --help shows it', () => {
    const args = parseFlags([], FLAGS, 'usage');
    expect(args.string('batch-size')).toBe('16');
    expect(args.number('batch-size', () => true, 'n')).toBe(16);
    expect(helpText('usage', FLAGS)).toContain('images per step (default: 16)');
  });

  test('a default worked out at run time is shown by --help but is not a value', () => {
    const args = parseFlags([], FLAGS, 'usage');
    expect(args.string('workers')).toBeUndefined();
    expect(args.number('workers', () => true, 'n')).toBeUndefined();
    expect(args.given('workers')).toBe(false);
    expect(helpText('usage', FLAGS)).toContain('decoding threads (default: one per core)');
    const given = parseFlags(['--workers', '3'], FLAGS, 'usage');
    expect(given.number('workers', () => true, 'n')).toBe(3);
  });

  test('a list of numbers is checked item by item, and the message shows the whole list', () => {
    const positive = (n: number) => Number.isInteger(n) && n > 0;
    const expected = 'comma-separated positive integers';
    const list = (value: string) =>
      parseFlags(['--batch-size', value], FLAGS, 'usage').numbers('batch-size', positive, expected);
    expect(parseFlags([], FLAGS, 'usage').numbers('batch-size', positive, expected)).toEqual([16]);
    expect(list('1, 16,128')).toEqual([1, 16, 128]);
    for (const bad of ['1,,16', '1,16,', '1,x', '0,16', '1.5']) {
      expect(() => list(bad)).toThrow(
        `Expected ${expected} for --batch-size but received '${bad}'`,
      );
    }
  });

  test('a boolean flag without a default is false and shows none', () => {
    expect(parseFlags([], FLAGS, 'usage').flag('resume')).toBe(false);
    expect(helpText('usage', FLAGS)).toMatch(/--resume +continue\n/);
  });

  test('npm run train -- --help prints the options and exits 0', () => {
    expectFreshBuild();
    const { status, stdout } = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage: alexnet train \[options\]/);
    expect(stdout).toMatch(/--workers <n> +threads decoding .* \(default: one per core\)\n/);
    expect(stdout).toMatch(/--out <dir> +run folder \(default: runs\/<date-time>\)\n/);
  });
});

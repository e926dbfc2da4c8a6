/**
 * The `alexnet` command (scripts/alexnet.ts, built into dist/): its list of subcommands, its
 * version, one line and the list for an unknown subcommand, and each subcommand's own --help.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expectFreshBuild } from './util/built-cli';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'dist', 'scripts', 'alexnet.js');
const SUBCOMMANDS = ['train', 'predict', 'serve', 'prepare-data', 'export', 'doctor', 'build'];

function alexnet(...args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
}

beforeAll(() => expectFreshBuild());

test('with no arguments or --help it lists every subcommand and exits 0', () => {
  for (const args of [[], ['--help']]) {
    const { status, stdout } = alexnet(...args);
    expect(status).toBe(0);
    expect(stdout).toMatch(/^Usage: alexnet <command> \[options\]/);
    for (const name of SUBCOMMANDS) expect(stdout).toMatch(new RegExp(`\n  ${name} +\\S`));
  }
});

test('--version prints the version of package.json', () => {
  const { status, stdout } = alexnet('--version');
  expect(status).toBe(0);
  expect(stdout).toBe(`${require('../package.json').version}\n`);
});

test('an unknown subcommand exits 1 with one line naming it, then the list', () => {
  const { status, stdout, stderr } = alexnet('trian');
  expect(status).toBe(1);
  expect(stdout).toBe('');
  const [first, blank, usage] = stderr.split('\n');
  expect(first).toBe(
    `error: Expected one of ${SUBCOMMANDS.join(', ')} for the command but received 'trian'`,
  );
  expect([blank, usage]).toEqual(['', 'Usage: alexnet <command> [options]']);
});

test("an unknown flag of a subcommand exits 1 naming it, then that subcommand's options", () => {
  const { status, stderr } = alexnet('predict', '--top5');
  expect(status).toBe(1);
  expect(stderr.split('\n')[0]).toMatch(/^error: Unknown option '--top5'/);
  expect(stderr).toContain('Usage: alexnet predict [options]');
  expect(stderr).toMatch(/--checkpoint <file> +a checkpoint of alexnet train/);
});

test.each(SUBCOMMANDS)('alexnet %s --help prints its own usage and options', (name) => {
  const { status, stdout } = alexnet(name, '--help');
  expect(status).toBe(0);
  expect(stdout.split('\n')[0]).toMatch(new RegExp(`^Usage: alexnet ${name}( |$)`));
  expect(stdout).toMatch(/\nOptions:\n(.*\n)* {2}--help +show this help\n/);
});

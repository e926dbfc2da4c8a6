#!/usr/bin/env node
/**
 * The seed sweep (issue 28): runs every seeded test file (those that import testSeed from
 * test/util/random.ts, which reads ALEXNET_TEST_SEED) over many seeds, prints each failing seed
 * with its test, and exits 1 if any failed. A tolerance that holds for the seed of one run but
 * not for all of them makes a correct change fail CI about once in that many runs; run this after
 * changing a kernel or a tolerance. It is not part of `npm test` (it takes hours at 200 seeds).
 *
 *   npm run test:seeds -- [--seeds N] [--jobs J] [--seed-list a,b,...] [test files...]
 *
 * --seeds: how many seeds (default 50), drawn at random in [0, 2^31) like testSeed does.
 * --seed-list: these seeds instead (to rerun the ones a sweep reported).
 * --jobs: jest processes at a time (default 1); each runs one seed over the files in band.
 * Files: the seeded files to run (default all of them).
 *
 * Each failure prints a line `seed S: file › test: first line of the message`, which
 * `ALEXNET_TEST_SEED=S npx jest file` reproduces. The last line counts seeds, runs (seed × file)
 * and failures, and the time taken.
 */

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { stripVTControlCharacters } = require('node:util');

const root = path.join(__dirname, '..');

function usage(message) {
  console.error(`test-seeds: ${message}`);
  console.error('usage: test-seeds.js [--seeds N] [--jobs J] [--seed-list a,b,...] [files...]');
  process.exit(2);
}

function positiveInteger(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    usage(`Expected positive integer for ${name} but received ${text}`);
  return n;
}

function parseArgs(argv) {
  const options = { seeds: 50, jobs: 1, seedList: null, files: [] };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--seeds') options.seeds = positiveInteger('--seeds', value());
    else if (arg === '--jobs') options.jobs = positiveInteger('--jobs', value());
    else if (arg === '--seed-list') {
      options.seedList = value()
        .split(',')
        .map((s) => {
          const n = Number(s);
          if (!Number.isInteger(n) || n < 0)
            usage(`Expected seeds in --seed-list but received ${s}`);
          return n;
        });
    } else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else options.files.push(arg);
  }
  return options;
}

/** The test files whose inputs come from testSeed(). */
function seededFiles() {
  const dir = path.join(root, 'test');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .filter((f) => /\btestSeed\b/.test(fs.readFileSync(path.join(dir, f), 'utf8')))
    .map((f) => path.join('test', f));
}

/** The jest processes running now, to stop with this one. */
const children = new Set();

/** Runs jest once with ALEXNET_TEST_SEED=seed over `files`; resolves to its failures. */
function runSeed(seed, files, scratch) {
  const output = path.join(scratch, `jest-${seed}.json`);
  const jest = require.resolve('jest/bin/jest', { paths: [root] });
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [jest, '--runInBand', '--silent', '--json', `--outputFile=${output}`, ...files],
      { cwd: root, env: { ...process.env, ALEXNET_TEST_SEED: String(seed) }, stdio: 'ignore' },
    );
    children.add(child);
    child.on('exit', (code, signal) => {
      children.delete(child);
      let report;
      try {
        report = JSON.parse(fs.readFileSync(output, 'utf8'));
        fs.rmSync(output, { force: true });
      } catch {
        resolve([
          {
            file: files.join(' '),
            test: '(jest)',
            message: `exited ${signal ?? code} without results`,
          },
        ]);
        return;
      }
      const failures = [];
      for (const suite of report.testResults) {
        const file = path.relative(root, suite.name);
        const failed = suite.assertionResults.filter((a) => a.status === 'failed');
        for (const a of failed) {
          failures.push({
            file,
            test: a.fullName,
            message: firstLine(a.failureMessages.join('\n')),
          });
        }
        if (failed.length === 0 && suite.status === 'failed') {
          failures.push({ file, test: '(suite)', message: firstLine(suite.message) });
        }
      }
      resolve(failures);
    });
  });
}

function firstLine(text) {
  // Jest's messages start with ANSI colour codes and blank lines.
  const plain = stripVTControlCharacters(String(text));
  return (plain.split('\n').find((l) => l.trim() !== '') ?? '').trim();
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const all = seededFiles();
  for (const f of options.files) {
    if (!all.includes(path.normalize(f)))
      usage(`${f} is not a seeded test file (${all.join(', ')})`);
  }
  const files = options.files.length > 0 ? options.files.map((f) => path.normalize(f)) : all;
  const seeds =
    options.seedList ??
    Array.from({ length: options.seeds }, () => Math.floor(Math.random() * 2 ** 31));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-test-seeds-'));
  const started = Date.now();
  console.log(
    `test-seeds: ${seeds.length} seeds over ${files.length} files, ${options.jobs} at a time`,
  );

  let next = 0;
  let done = 0;
  let failedRuns = 0;
  const failedSeeds = new Set();
  async function worker() {
    while (next < seeds.length) {
      const seed = seeds[next++];
      const failures = await runSeed(seed, files, scratch);
      ++done;
      for (const f of failures) console.log(`seed ${seed}: ${f.file} › ${f.test}: ${f.message}`);
      if (failures.length > 0) failedSeeds.add(seed);
      failedRuns += new Set(failures.map((f) => f.file)).size;
      if (done % 10 === 0) console.log(`test-seeds: ${done}/${seeds.length} seeds done`);
    }
  }
  const summary = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    return (
      `test-seeds: ${done} seeds × ${files.length} files = ${done * files.length} runs, ` +
      `${failedRuns} failed (${failedSeeds.size} seeds), ${seconds} s`
    );
  };
  // Stopped early (Ctrl-C, a time limit), it still says how many runs finished, and fails: the
  // seeds it did not reach were not checked. The seeds in progress are not counted.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => {
      for (const child of children) child.kill('SIGTERM');
      console.log(`${summary()}; stopped by ${signal} after ${done} of ${seeds.length} seeds`);
      fs.rmSync(scratch, { recursive: true, force: true });
      process.exit(1);
    });
  }
  await Promise.all(Array.from({ length: options.jobs }, worker));
  fs.rmSync(scratch, { recursive: true, force: true });
  console.log(summary());
  process.exit(failedRuns > 0 ? 1 : 0);
}

main();

#!/usr/bin/env node
/**
 * `npm run bench -- <benchmark> [options]`: speed, measured side by side with PyTorch in the same
 * run on the same machine and reported as ratios, never by a timed test. Each benchmark is a
 * module under scripts/bench/, loaded only when asked for.
 */
import { AlexNetError } from '../lib/errors';
import { run } from './cli';

interface Benchmark {
  summary: string;
  load(): Promise<(argv: string[]) => Promise<void>>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  predict: {
    summary: 'bvlc AlexNet inference on the CPU (one image, a batch, one JPEG) against PyTorch',
    load: async () => (await import('./bench/predict')).benchPredict,
  },
};

const USAGE = `Usage: npm run bench -- <benchmark> [options]

Benchmarks:
${Object.entries(BENCHMARKS)
  .map(([name, b]) => `  ${name.padEnd(8)} ${b.summary}`)
  .join('\n')}

npm run bench -- <benchmark> --help lists its options.
`;

async function main(): Promise<void> {
  const [name, ...argv] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return;
  }
  const benchmark = BENCHMARKS[name];
  if (!benchmark) {
    throw new AlexNetError(
      `Expected one of ${Object.keys(BENCHMARKS).join(', ')} for the benchmark but received '${name}'\n\n${USAGE}`,
    );
  }
  await (await benchmark.load())(argv);
}

run(main);

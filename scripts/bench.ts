#!/usr/bin/env node
/**
 * `npm run bench -- <benchmark> [options]`: speed, measured side by side with a peer (PyTorch,
 * onnxruntime-node) in the same run on the same machine and reported as ratios, never by a timed
 * test. Each benchmark is a module under scripts/bench/ exporting `main(argv)`, loaded only when
 * asked for.
 */
import { AlexNetError } from '../lib/errors';
import { run } from './cli';

interface Benchmark {
  summary: string;
  load(): Promise<{ main(argv: string[]): Promise<void> }>;
}

const BENCHMARKS: Record<string, Benchmark> = {
  ops: {
    summary:
      'each AlexNet op at its bvlc shape and the whole forward pass, against PyTorch and onnxruntime-node',
    load: () => import('./bench/ops'),
  },
  train: {
    summary: 'a whole training step (all layers, and fc6-fc8 only), against PyTorch',
    load: () => import('./bench/train'),
  },
  predict: {
    summary:
      'single-image latency, batch throughput and one JPEG end to end of the bvlc preset, against PyTorch and onnxruntime-node',
    load: async () => ({ main: (await import('./bench/predict')).benchPredict }),
  },
  runtime: {
    summary: 'event-loop stall of forward against forwardSync, and memory over varying batches',
    load: () => import('./bench/runtime'),
  },
  serve: {
    summary:
      'the inference server under 1, 8 and 32 concurrent clients, against sequential classify',
    load: () => import('./bench/serve'),
  },
  data: {
    summary: 'building the image cache, and augmented batches from it',
    load: async () => ({ main: (await import('./bench/data')).benchData }),
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
  await (await benchmark.load()).main(argv);
}

run(main);

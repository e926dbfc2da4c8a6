#!/usr/bin/env node
/**
 * The `alexnet` command of the npm package (package.json "bin"): `alexnet <subcommand> [options]`.
 * Each subcommand is a module of scripts/ exporting `main(argv)`, loaded only when asked for (so
 * `alexnet build` and `alexnet --help` work where the native addon does not load yet); its flags
 * and --help are that module's. The repository's `npm run train` etc. run this same file.
 */
import { AlexNetError } from '../lib/errors';
import { packageVersion } from '../lib/package-root';
import { run } from './cli';

interface Subcommand {
  summary: string;
  load(): Promise<{ main(argv: string[]): Promise<void> }>;
}

/** The subcommands; adding one is one entry here. */
const SUBCOMMANDS: Record<string, Subcommand> = {
  train: {
    summary: 'train AlexNet (no flags: a small one on the MNIST digits, into ./runs)',
    load: () => import('./train'),
  },
  predict: {
    summary: 'the top classes of images, with bvlc_alexnet.npy or a checkpoint',
    load: () => import('./predict'),
  },
  serve: {
    summary: 'an HTTP server: a page at / to try it, POST /classify for programs',
    load: () => import('./serve'),
  },
  'prepare-data': {
    summary: 'split a folder of images into train.txt, val.txt and classes.txt',
    load: () => import('./prepare-data'),
  },
  export: {
    summary: 'write a model as ONNX, from a checkpoint, bvlc_alexnet.npy or a .pth',
    load: () => import('./export'),
  },
  doctor: {
    summary: 'what was found (binary, CPU, GPUs, cuDNN/cuBLAS/NCCL) and a check of every GPU',
    load: () => import('./doctor'),
  },
  build: {
    summary: 'compile the native addon from source into this package',
    load: () => import('./build'),
  },
};

const USAGE = `Usage: alexnet <command> [options]

Commands:
${Object.entries(SUBCOMMANDS)
  .map(([name, c]) => `  ${name.padEnd(13)} ${c.summary}`)
  .join('\n')}

alexnet <command> --help lists its options; alexnet --version prints the version.
`;

async function main(): Promise<void> {
  const [name, ...argv] = process.argv.slice(2);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return;
  }
  const subcommand = Object.hasOwn(SUBCOMMANDS, name) ? SUBCOMMANDS[name] : undefined;
  if (!subcommand) {
    throw new AlexNetError(
      `Expected one of ${Object.keys(SUBCOMMANDS).join(', ')} for the command but received '${name}'\n\n${USAGE}`,
    );
  }
  await (await subcommand.load()).main(argv);
}

run(main);

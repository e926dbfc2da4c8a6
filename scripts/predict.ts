#!/usr/bin/env node
/**
 * `npm run predict -- [--weights bvlc_alexnet.npy | --checkpoint run.safetensors] <images...>`:
 * the most probable classes of image files, or of every image in folders. With the public
 * bvlc_alexnet.npy weights, the top 5 of the 1000 ImageNet classes, as the AlexNet tutorial
 * prints them (torchvision's alexnet-owt-7be5be79.pth too, with torchvision's preprocessing);
 * with a checkpoint from `npm run train`, its own class (`cat` / `dog`). The
 * preprocessing is the validation pass's (lib/predict.ts); a checkpoint carries its own.
 */
import * as fs from 'node:fs';
import { imagesUnder } from '../lib/data/sources';
import type { DeviceRequest } from '../lib/device';
import { AlexNetError } from '../lib/errors';
import { AlexNet } from '../lib/nn/alexnet';
import type { Classification } from '../lib/predict';
import { classify } from '../lib/predict';
import { type Flags, parseFlags, run } from './cli';
import { DECODE_FLAGS, decodeFlags, decoderLine } from './decode-flags';

const USAGE = `Usage: alexnet predict [options] <image or folder>...

Prints the most probable classes of each image (JPEG or PNG; WebP, AVIF, GIF and TIFF too with
sharp installed; folders: every image under them), one 'name probability' line per class.
Without --weights or --checkpoint it reads bvlc_alexnet.npy from the current folder.`;

const FLAGS: Flags = {
  weights: {
    type: 'string',
    description:
      "bvlc_alexnet.npy or torchvision's alexnet-owt-7be5be79.pth: the 1000 ImageNet classes (top 5 by default)",
    default: 'bvlc_alexnet.npy',
    placeholder: 'file',
  },
  checkpoint: {
    type: 'string',
    description: 'a checkpoint of alexnet train (its class by default)',
    placeholder: 'file',
  },
  top: {
    type: 'string',
    description: 'classes to print per image',
    defaultText: '5 with --weights, 1 with --checkpoint',
    placeholder: 'k',
  },
  json: { type: 'boolean', description: 'print [{ file, top: [{ label, index, probability }] }]' },
  'ten-crop': {
    type: 'boolean',
    description: 'average over the four corner and centre crops and their mirrors',
  },
  device: {
    type: 'string',
    description: "'auto', 'cpu', 'cuda' or 'cuda:N'",
    default: 'auto',
    placeholder: 'd',
  },
  'batch-size': {
    type: 'string',
    description: 'network inputs per forward pass (a ten-crop image is 10)',
    default: '16',
    placeholder: 'n',
  },
  workers: {
    type: 'string',
    description: 'threads decoding images (0: the main thread)',
    defaultText: 'one per core',
    placeholder: 'n',
  },
  ...DECODE_FLAGS,
  verbose: { type: 'boolean', description: 'say on stderr which decoder and device are used' },
  help: { type: 'boolean', description: 'show this help' },
};

/** The inputs: files as given, folders replaced by the images under them. */
function expandInputs(paths: string[]): string[] {
  return paths.flatMap((input) => {
    if (!fs.existsSync(input) || !fs.statSync(input).isDirectory()) return [input];
    const images = imagesUnder(input);
    if (images.length === 0) throw new AlexNetError(`${input}: no images in this folder`);
    return images;
  });
}

/** `name probability` lines, names padded to one column. */
function formatTop({ top }: Classification, indent: string): string {
  const width = Math.max(...top.map((t) => t.label.length));
  return top
    .map((t) => `${indent}${t.label.padEnd(width)}  ${t.probability.toFixed(4)}\n`)
    .join('');
}

/** The predict command; `argv` are its arguments. Resolves to what it printed, as data. */
export async function predict(argv: string[]): Promise<Classification[]> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length === 0) {
    throw new AlexNetError(`Expected at least one image or folder\n\n${USAGE}`);
  }
  if (args.given('weights') && args.given('checkpoint')) {
    throw new AlexNetError('Expected --weights or --checkpoint, not both');
  }
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  const file = args.given('checkpoint') ? args.string('checkpoint')! : args.string('weights')!;
  const top = args.given('top')
    ? args.number('top', positiveInt, 'positive integer')!
    : args.given('checkpoint')
      ? 1
      : 5;
  const batchSize = args.number('batch-size', positiveInt, 'positive integer')!;
  const workers = args.number(
    'workers',
    (n) => Number.isInteger(n) && n >= 0,
    'non-negative integer',
  );
  const decode = decodeFlags({
    decoder: args.string('decoder')!,
    autoOrient: args.flag('auto-orient'),
    maxPixels: args.string('max-pixels')!,
  });
  const files = expandInputs(args.positionals);

  const net = await AlexNet.fromFile(file, { device: args.string('device') as DeviceRequest });
  if (args.flag('verbose')) process.stderr.write(`${decoderLine(decode)}\ndevice: ${net.device}\n`);
  try {
    if (top > net.arch.classes) {
      throw new AlexNetError(
        `Expected --top of at most ${net.arch.classes} (the classes of ${file}) but received ${top}`,
      );
    }
    let failed = 0;
    // One image: its error is the whole answer. Several: report each bad one and go on.
    const onError =
      files.length === 1
        ? undefined
        : (_: string, error: AlexNetError) => {
            failed += 1;
            process.stderr.write(`error: ${error.message}\n`);
          };
    const results = await classify(net, files, {
      top,
      tenCrop: args.flag('ten-crop'),
      batchSize,
      workers,
      onError,
      ...decode,
    });
    if (args.flag('json')) {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    } else if (files.length === 1) {
      process.stdout.write(formatTop(results[0], ''));
    } else {
      for (const result of results)
        process.stdout.write(`${result.file}\n${formatTop(result, '  ')}`);
    }
    if (failed > 0) {
      throw new AlexNetError(`${failed} of ${files.length} images could not be read`);
    }
    return results;
  } finally {
    net.dispose();
  }
}

/** The predict command as `alexnet predict` runs it. */
export async function main(argv: string[]): Promise<void> {
  await predict(argv);
}

if (require.main === module) run(() => main(process.argv.slice(2)));

#!/usr/bin/env node
/**
 * `npm run prepare-data -- <images folder>`: writes `train.txt`, `val.txt` and `classes.txt` for a
 * folder of Kaggle-style names (cat.1.jpg) or of one sub-folder per class: a seeded, stratified
 * split (lib/data/sources.ts), the same for the same files and seed. With the same --seed and
 * --val-fraction it is the split `npm run train -- --data <folder>` makes on the fly.
 */
import * as path from 'node:path';
import {
  classCounts,
  scanImageFolder,
  stratifiedSplit,
  writeImageLists,
} from '../lib/data/sources';
import { AlexNetError } from '../lib/errors';
import { type Flags, parseFlags, run } from './cli';

const USAGE = `Usage: alexnet prepare-data <images folder> [options]

Splits a folder of images into training and validation lists (lines '<path> <label>', paths
relative to the lists) and writes train.txt, val.txt and classes.txt.`;

const FLAGS: Flags = {
  'val-fraction': {
    type: 'string',
    description: 'fraction of each class held out for validation',
    default: '0.15',
    placeholder: 'f',
  },
  seed: { type: 'string', description: 'seed of the split', default: '1', placeholder: 'n' },
  out: {
    type: 'string',
    description: 'folder of the lists',
    defaultText: 'the images folder',
    placeholder: 'dir',
  },
  help: { type: 'boolean', description: 'show this help' },
};

/** The prepare-data command; `argv` are its arguments. Returns the files written. */
export async function prepareData(
  argv: string[],
): Promise<{ train: string; val: string; classes: string }> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length !== 1) {
    throw new AlexNetError(
      `Expected one images folder but received ${args.positionals.length} arguments (see --help)`,
    );
  }
  const folder = args.positionals[0];
  const valFraction = args.number(
    'val-fraction',
    (n) => n >= 0 && n <= 0.99,
    'number in [0, 0.99]',
  )!;
  const seed = args.number('seed', (n) => Number.isInteger(n) && n >= 0, 'non-negative integer')!;
  const out = args.string('out') ?? folder;
  const list = scanImageFolder(folder);
  const counts = classCounts(list);
  console.log(
    `${folder}: ${list.items.length} images in ${list.classes.length} classes ` +
      `(${list.classes.map((c, i) => `${c} ${counts[i]}`).join(', ')}), ` +
      `${list.layout === 'kaggle' ? 'Kaggle-style names' : 'one folder per class'}`,
  );
  const { train, val } = stratifiedSplit(list, valFraction, seed);
  const files = await writeImageLists(out, train, val);
  console.log(
    `wrote ${path.basename(files.train)} (${train.items.length} images), ` +
      `${path.basename(files.val)} (${val.items.length}) and ${path.basename(files.classes)} ` +
      `in ${out}`,
  );
  return files;
}

/** The prepare-data command as `alexnet prepare-data` runs it. */
export async function main(argv: string[]): Promise<void> {
  await prepareData(argv);
}

if (require.main === module) run(() => main(process.argv.slice(2)));

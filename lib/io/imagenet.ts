/**
 * The 1000 ImageNet (ILSVRC 2012) classes in the order of bvlc_alexnet's fc8 outputs: line i of
 * data/imagenet-classes.txt (shipped with the package) names output i, synonyms separated by
 * commas, as Caffe's data/ilsvrc12/synset_words.txt does without the WordNet ids.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AlexNetError } from '../errors';
import { packageRoot } from '../native';

let classes: readonly string[] | undefined;

export function imagenetClasses(): readonly string[] {
  if (!classes) {
    const file = path.join(packageRoot(), 'data', 'imagenet-classes.txt');
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    if (lines.length !== 1000) {
      throw new AlexNetError(`${file} should name 1000 classes but has ${lines.length} lines`);
    }
    classes = Object.freeze(lines);
  }
  return classes;
}

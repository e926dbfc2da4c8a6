/**
 * How often the two decoders (decoder.ts) lead the bvlc AlexNet to the same answer: each image
 * is classified twice, from sharp's pixels and from jpeg-js's, and the table gives the share of
 * images whose top-1 class and whose set of top-5 classes agree, and the largest difference of a
 * top-5 probability. Needs the public bvlc_alexnet.npy (`--weights`); the images are the JPEG
 * fixtures (test/fixtures/decoders and test/fixtures/images/kaggle) or `--images-dir`.
 */
import * as path from 'node:path';
import { imagesUnder } from '../../lib/data/sources';
import { packageRoot } from '../../lib/native';
import { AlexNet } from '../../lib/nn/alexnet';
import type { Classification } from '../../lib/predict';
import { classify } from '../../lib/predict';

/** The JPEGs the agreement is measured on. */
export function agreementImages(folder?: string): string[] {
  const folders = folder
    ? [folder]
    : [
        path.join(packageRoot(), 'test', 'fixtures', 'decoders'),
        path.join(packageRoot(), 'test', 'fixtures', 'images', 'kaggle'),
      ];
  return folders.flatMap((f) => imagesUnder(f)).filter((f) => /\.jpe?g$/i.test(f));
}

/** Markdown rows of the agreement of sharp and jpeg-js under the weights in `weights`. */
export async function decoderAgreement(weights: string, files: string[]): Promise<string[]> {
  const net = await AlexNet.fromFile(weights, { device: 'cpu' });
  const skipped = new Set<string>();
  const classifyWith = async (decoder: 'sharp' | 'js') => {
    const results = await classify(net, files, {
      top: 5,
      decoder,
      onError: (file) => skipped.add(file),
    });
    return new Map(results.map((r) => [r.file!, r]));
  };
  const bySharp = await classifyWith('sharp');
  const byJs = await classifyWith('js');
  await net.dispose();
  const both = files.filter((f) => bySharp.has(f) && byJs.has(f));
  const classes = (r: Classification) => r.top.map((t) => t.index);
  let top1 = 0;
  let top5 = 0;
  let worst = 0;
  for (const file of both) {
    const a = bySharp.get(file)!;
    const b = byJs.get(file)!;
    if (a.top[0].index === b.top[0].index) top1++;
    if ([...classes(a)].sort().join() === [...classes(b)].sort().join()) top5++;
    for (const t of a.top) {
      const other = b.top.find((u) => u.index === t.index);
      if (other) worst = Math.max(worst, Math.abs(other.probability - t.probability));
    }
  }
  const share = (n: number) => `${n} of ${both.length} (${((100 * n) / both.length).toFixed(0)}%)`;
  return [
    `| top-1 class equal under ${path.basename(weights)}, sharp vs jpeg-js pixels | ${share(top1)} |`,
    `| top-5 set equal | ${share(top5)} |`,
    `| largest difference of a shared top-5 probability | ${worst.toFixed(4)} |`,
    `| images skipped (unreadable by either) | ${skipped.size} |`,
  ];
}

#!/usr/bin/env node
/**
 * `npm run export -- --weights FILE | --checkpoint FILE --onnx OUT.onnx [--batch N]`: a model
 * as ONNX (opset 13; lib/io/onnx.ts says what the graph holds), to run in onnxruntime and the
 * other ONNX runtimes: bvlc_alexnet.npy, torchvision's .pth, or a checkpoint of npm run train.
 */
import { AlexNetError } from '../lib/errors';
import { AlexNet } from '../lib/nn/alexnet';
import { type Flags, parseFlags, run } from './cli';

const USAGE = `Usage: alexnet export (--weights <file> | --checkpoint <file>) --onnx <out.onnx> [options]

Writes the model as ONNX (opset 13): the weights as initializers, the input 'input'
(batch x 3 x size x size, already normalised) and the output 'logits'; the class names and the
preprocessing are in its metadata.`;

const FLAGS: Flags = {
  weights: {
    type: 'string',
    description: "bvlc_alexnet.npy or torchvision's alexnet-owt-7be5be79.pth",
    placeholder: 'file',
  },
  checkpoint: { type: 'string', description: 'a checkpoint of npm run train', placeholder: 'file' },
  onnx: { type: 'string', description: 'the ONNX file to write', placeholder: 'out.onnx' },
  batch: {
    type: 'string',
    description: 'a fixed batch size',
    defaultText: 'dynamic',
    placeholder: 'n',
  },
  help: { type: 'boolean', description: 'show this help' },
};

/** The export command; `argv` are its arguments. */
export async function main(argv: string[]): Promise<void> {
  const args = parseFlags(argv, FLAGS, USAGE);
  if (args.positionals.length > 0) {
    throw new AlexNetError(`Unexpected argument '${args.positionals[0]}'\n\n${USAGE}`);
  }
  if (args.given('weights') === args.given('checkpoint')) {
    throw new AlexNetError(`Expected --weights or --checkpoint (one of them)\n\n${USAGE}`);
  }
  const out = args.string('onnx');
  if (!out) throw new AlexNetError(`Expected --onnx <out.onnx>\n\n${USAGE}`);
  const batch = args.number('batch', (n) => Number.isInteger(n) && n > 0, 'positive integer');
  const file = args.string(args.given('weights') ? 'weights' : 'checkpoint')!;
  const net = await AlexNet.fromFile(file, { device: 'cpu' });
  try {
    await net.exportOnnx(out, { batch });
  } finally {
    await net.dispose();
  }
  process.stdout.write(
    `${out}: AlexNet (${net.arch.preset}, input ${net.arch.inputSize}, ${net.arch.classes} classes), ` +
      `batch ${batch ?? 'dynamic'}, ONNX opset 13\n`,
  );
}

if (require.main === module) run(() => main(process.argv.slice(2)));

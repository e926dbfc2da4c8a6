/**
 * ONNX export (lib/io/onnx.ts, scripts/export.ts) checked by readers we did not write: the
 * exported model's logits in onnxruntime-node equal ours (a peer, installed without scripts:
 * `npm install --prefix .peers --no-save --ignore-scripts onnxruntime-node`), and python3-onnx's
 * checker accepts the file and reads back its opset, names, attributes and metadata. Each part
 * skips, saying so in its title, where its reader is absent.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet } from '../lib';
import { imagenetClasses } from '../lib/io/imagenet';
import { peerFolders } from '../scripts/bench/paths';
import { main as exportMain } from '../scripts/export';
import { relativeError } from './util/compare';
import { FIXTURES } from './util/npy';

const TV_ZIP = path.join(FIXTURES, 'torchvision', 'tv_zip.pth');
const TV_HALF = path.join(FIXTURES, 'torchvision', 'tv_half.pth');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-onnx-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** onnxruntime-node's main file, from our node_modules or .peers/node_modules, else null. */
const ORT = ((): string | null => {
  try {
    return require.resolve('onnxruntime-node', { paths: peerFolders() });
  } catch {
    return null;
  }
})();
const PYTHON = '/usr/bin/python3';
const hasOnnx = spawnSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
const withOrt = ORT ? it : it.skip;
const ortNote = ORT ? '' : ' [skipped: onnxruntime-node is not installed (see the header)]';
const withOnnx = hasOnnx ? it : it.skip;
const onnxNote = hasOnnx ? '' : ' [skipped: python3-onnx is not installed]';

/** Deterministic inputs in [-2, 2) (a linear congruential sequence). */
function inputs(n: number, side: number): Float32Array {
  const x = new Float32Array(n * 3 * side * side);
  let state = 12345;
  for (let i = 0; i < x.length; ++i) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    x[i] = (state / 2 ** 31) * 4 - 2;
  }
  return x;
}

/**
 * The logits onnxruntime-node computes for `x` with the model in `file`, in a child process:
 * inside jest's sandbox its native binding makes output tensors from another realm's
 * Float32Array and refuses them. Rejects with onnxruntime's message when it fails.
 */
async function ortLogits(
  file: string,
  x: Float32Array,
  dims: number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const input = path.join(scratch, 'input.bin');
  fs.writeFileSync(input, x);
  const script = `
    const ort = require(process.argv[1]);
    (async () => {
      const session = await ort.InferenceSession.create(process.argv[2], {
        intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      const bytes = require('fs').readFileSync(process.argv[3]);
      const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
      const dims = JSON.parse(process.argv[4]);
      const { logits } = await session.run({ input: new ort.Tensor('float32', x, dims) });
      process.stdout.write(JSON.stringify({ dims: logits.dims, data: Array.from(logits.data) }));
    })().catch((error) => { process.stderr.write(error.message); process.exit(1); });`;
  const result = spawnSync(
    process.execPath,
    ['-e', script, ORT!, file, input, JSON.stringify(dims)],
    {
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) throw new Error(`onnxruntime-node: ${result.stderr}`);
  const { data, dims: outDims } = JSON.parse(result.stdout);
  return { data: Float32Array.from(data), dims: outDims };
}

/**
 * Two float32 runs of the same network whose convolutions and GEMMs sum in different orders
 * (onnxruntime's MLAS against our kernels): a few roundings of the largest logit apart, as in
 * torchvision.test.ts, where PyTorch's run stays within 5e-7. 1e-5 of the largest |logit| is
 * the bar; a wrong attribute (LRN alpha off by the window size, a missing group or pad,
 * an untransposed fc) moves logits by far more.
 */
const REL_TOLERANCE = 1e-5;

describe('ONNX export', () => {
  withOrt(
    `torchvision from a .pth: onnxruntime-node's logits equal ours at two batch sizes (dynamic axis)${ortNote}`,
    async () => {
      const net = await AlexNet.fromFile(TV_ZIP, { device: 'cpu' });
      const file = path.join(scratch, 'tv.onnx');
      try {
        await net.exportOnnx(file);
        for (const n of [1, 3]) {
          const x = inputs(n, 224);
          const ours = await net.forward(x, n);
          const theirs = await ortLogits(file, x, [n, 3, 224, 224]);
          expect(theirs.dims).toEqual([n, 10]);
          expect(relativeError(theirs.data, ours)).toBeLessThanOrEqual(REL_TOLERANCE);
        }
      } finally {
        await net.dispose();
      }
    },
  );

  withOrt(
    `bvlc and paper (LRN, two groups): onnxruntime-node's logits equal ours${ortNote}`,
    async () => {
      for (const preset of ['bvlc', 'paper'] as const) {
        const net = new AlexNet({
          preset,
          classes: 7,
          inputSize: 67,
          widthScale: 1 / 8,
          device: 'cpu',
          seed: 5,
        });
        const file = path.join(scratch, `${preset}.onnx`);
        try {
          await net.exportOnnx(file);
          const x = inputs(2, 67).map((v) => v * 60);
          const ours = await net.forward(x, 2);
          const theirs = await ortLogits(file, x, [2, 3, 67, 67]);
          expect(relativeError(theirs.data, ours)).toBeLessThanOrEqual(REL_TOLERANCE);
        } finally {
          await net.dispose();
        }
      }
    },
  );

  withOrt(`npm run export --batch 3 fixes the batch axis${ortNote}`, async () => {
    const file = path.join(scratch, 'fixed.onnx');
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await exportMain(['--weights', TV_ZIP, '--onnx', file, '--batch', '3']);
    } finally {
      write.mockRestore();
    }
    const x = inputs(3, 224);
    expect((await ortLogits(file, x, [3, 3, 224, 224])).dims).toEqual([3, 10]);
    await expect(ortLogits(file, inputs(2, 224), [2, 3, 224, 224])).rejects.toThrow(
      /dimension|Got invalid dimensions/i,
    );
  });

  withOnnx(
    `python3-onnx's checker accepts the files; opset 13, node names, LRN attributes and metadata read back${onnxNote}`,
    async () => {
      const bvlc = new AlexNet({ classes: 3, inputSize: 67, widthScale: 1 / 16, device: 'cpu' });
      bvlc.classNames = ['cat', 'dog', 'fox'];
      const bvlcFile = path.join(scratch, 'check-bvlc.onnx');
      await bvlc.exportOnnx(bvlcFile);
      await bvlc.dispose();
      const tv = await AlexNet.fromFile(TV_HALF, { device: 'cpu' });
      const tvFile = path.join(scratch, 'check-tv.onnx');
      await tv.exportOnnx(tvFile, { batch: 4 });
      await tv.dispose();
      const script = [
        'import json, sys, onnx',
        'from onnx import helper',
        'out = {}',
        'for f in sys.argv[1:]:',
        '    m = onnx.load(f)',
        '    onnx.checker.check_model(m, full_check=True)',
        '    g = m.graph',
        '    lrn = [n for n in g.node if n.op_type == "LRN"]',
        '    out[f] = {',
        '        "opset": [(o.domain, o.version) for o in m.opset_import],',
        '        "nodes": [(n.name, n.op_type) for n in g.node],',
        '        "lrn": {a.name: helper.get_attribute_value(a) for a in lrn[0].attribute} if lrn else None,',
        '        "input": [d.dim_param or d.dim_value for d in g.input[0].type.tensor_type.shape.dim],',
        '        "initializers": [i.name for i in g.initializer],',
        '        "metadata": {p.key: p.value for p in m.metadata_props},',
        '    }',
        'print(json.dumps(out))',
      ].join('\n');
      const result = spawnSync(PYTHON, ['-c', script, bvlcFile, tvFile], { encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      const read = JSON.parse(result.stdout);
      const b = read[bvlcFile];
      expect(b.opset).toEqual([['', 13]]);
      expect(b.nodes.map(([name]: string[]) => name)).toEqual([
        ...['conv1', 'relu1', 'norm1', 'pool1', 'conv2', 'relu2', 'norm2', 'pool2'],
        ...['conv3', 'relu3', 'conv4', 'relu4', 'conv5', 'relu5', 'pool5', 'flatten'],
        ...['fc6', 'relu6', 'drop6', 'fc7', 'relu7', 'drop7', 'fc8'],
      ]);
      // float32 attributes: 1e-4 and 0.75 as read back in float64.
      expect(b.lrn.size).toBe(5);
      expect(b.lrn.alpha).toBeCloseTo(1e-4, 10);
      expect(b.lrn.beta).toBe(0.75);
      expect(b.lrn.bias).toBe(1);
      expect(b.input).toEqual(['batch', 3, 67, 67]);
      expect(JSON.parse(b.metadata.class_names)).toEqual(['cat', 'dog', 'fox']);
      expect(b.initializers[0]).toBe('conv1.weight');
      const t = read[tvFile];
      expect(t.lrn).toBeNull();
      // torchvision's order: dropout before fc6 and fc7.
      expect(t.nodes.slice(-9).map(([name]: string[]) => name)).toEqual([
        ...['pool5', 'flatten', 'drop6', 'fc6', 'relu6', 'drop7', 'fc7', 'relu7', 'fc8'],
      ]);
      expect(t.input).toEqual([4, 3, 224, 224]);
      expect(t.initializers.slice(-2)).toEqual(['classifier.6.weight', 'classifier.6.bias']);
      expect(JSON.parse(t.metadata.class_names)).toEqual(imagenetClasses());
      expect(JSON.parse(t.metadata.preprocessing).resize).toEqual({ policy: 'shorter', size: 256 });
    },
  );
});

/**
 * bvlc_alexnet.npy: the Python-2 protocol-2 file and its Python 3 np.save twin written by
 * scripts/make_weights_fixture.py (a 1/16-width bvlc AlexNet, input 99, 10 classes), our logits
 * against PyTorch's for the same weights, the layout conversion, fc8 and `skip`, the errors, and
 * a full-size file written at test time by test/util/bvlc-writer.ts (244 MB is too large to
 * commit). With ALEXNET_BVLC_FULL=<dir> (made by `make_weights_fixture.py --full <dir>`), the
 * full-size logits are also checked against PyTorch.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AlexNet, FormatError, LAYER_NAMES } from '../lib';
import { parseBvlc } from '../lib/io/bvlc';
import { imagenetClasses } from '../lib/io/imagenet';
import { bvlcNpyChunks, type FileArray, writeBvlcNpy } from './util/bvlc-writer';
import { expectClose, maxAbs } from './util/compare';
import { FIXTURES, loadFixture, readNpy } from './util/npy';

const DIR = path.join(FIXTURES, 'bvlc');
const PY2 = path.join(DIR, 'small_py2.npy');
const PY3 = path.join(DIR, 'small_py3.npy');

interface BvlcMeta {
  widthScale: number;
  classes: number;
  inputSize: number;
}

/**
 * Two float32 runs of the same network summing in different orders (PyTorch's kernels and ours)
 * through 8 layers; the issue asks for 1e-4 relative to the logits' scale. The training-step
 * test (alexnet.test.ts) measures our float32 within ~6e-7 of PyTorch on this architecture, so
 * a layout mistake (any transposed or permuted weight) shows orders of magnitude above this.
 */
const LOGITS_RTOL = 1e-4;

const small = (f: { meta: BvlcMeta }, classes = f.meta.classes) =>
  new AlexNet({
    device: 'cpu',
    classes,
    inputSize: f.meta.inputSize,
    widthScale: f.meta.widthScale,
    dropout: 0,
  });

describe('bvlc_alexnet.npy', () => {
  const f = loadFixture<BvlcMeta>('bvlc');
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-bvlc-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['Python 2, protocol 2', PY2],
    ['np.save under Python 3, protocol 3', PY3],
  ])('%s: our logits match PyTorch with the same weights', async (_, file) => {
    const net = small(f);
    await net.load(file);
    const x = f.tensor('x');
    const expected = f.tensor('logits').data;
    expectClose(
      await net.forward(x.data, x.shape[0]),
      expected,
      { rtol: 0, atol: LOGITS_RTOL * maxAbs(expected) },
      'logits',
    );
    // Caffe's input convention comes with the weights.
    expect(net.normalisation).toEqual({ mean: [123, 117, 104], scale: [1, 1, 1], bgr: true });
    expect(net.resize).toEqual({ policy: 'stretch', size: 112 });
    net.dispose();
  });

  test('the layouts: conv HWIO to OIHW, fc (in, out) to (out, in), fc6 rows HWC to CHW', () => {
    const layers = parseBvlc(fs.readFileSync(PY2), PY2, LAYER_NAMES);
    const net = small(f);
    return net.load(PY2).then(() => {
      const params = Object.fromEntries(net.parameters().map((p) => [p.name, p.value]));
      // conv2: file (5, 5, 3, 16) [y][x][i][o] is ours (16, 3, 5, 5) [o][i][y][x].
      const [w2] = layers.get('conv2')!;
      const ours2 = params['conv2.weight'].toArray();
      for (const [y, x, i, o] of [
        [0, 0, 0, 0],
        [4, 1, 2, 15],
        [2, 3, 1, 7],
      ]) {
        expect(ours2[((o * 3 + i) * 5 + y) * 5 + x]).toBe(w2.data[((y * 5 + x) * 3 + i) * 16 + o]);
      }
      // fc6: pool5 is 16 x 2 x 2; file row (y * 2 + x) * 16 + c is our column (c * 2 + y) * 2 + x.
      const [w6] = layers.get('fc6')!;
      const ours6 = params['fc6.weight'].toArray();
      for (const [c, y, x, o] of [
        [0, 0, 1, 0],
        [15, 1, 0, 255],
        [7, 1, 1, 100],
      ]) {
        expect(ours6[o * 64 + (c * 2 + y) * 2 + x]).toBe(w6.data[((y * 2 + x) * 16 + c) * 256 + o]);
      }
      // fc7: (in, out) transposed.
      const [w7] = layers.get('fc7')!;
      expect(params['fc7.weight'].toArray()[3 * 256 + 200]).toBe(w7.data[200 * 256 + 3]);
      net.dispose();
    });
  });

  test('the TypeScript writer reproduces the Python-2 fixture byte for byte', () => {
    const layers = parseBvlc(fs.readFileSync(PY2), PY2, LAYER_NAMES);
    const entries = [...layers].map(
      ([name, pair]) =>
        [name, pair.map((a) => ({ data: a.data, shape: a.shape }))] as [
          string,
          [FileArray, FileArray],
        ],
    );
    expect(Buffer.concat(bvlcNpyChunks(entries)).equals(fs.readFileSync(PY2))).toBe(true);
  });

  test("fc8 of another size needs skip: ['fc8'], which keeps ours and the class names", async () => {
    const net = small(f, 2);
    net.classNames = ['cat', 'dog'];
    await expect(net.load(PY2)).rejects.toThrow(
      `${PY2}: fc8 weight has shape [256, 10] (in, out) but the model expects [256, 2] ` +
        "(a different number of classes? load with { skip: ['fc8'] })",
    );
    const fc8 = net
      .parameters()
      .find((p) => p.name === 'fc8.weight')!
      .value.toArray();
    await net.load(PY2, { skip: ['fc8'] });
    const params = Object.fromEntries(net.parameters().map((p) => [p.name, p.value.toArray()]));
    expect(params['fc8.weight']).toEqual(fc8);
    expect(params['fc7.bias']).toEqual(
      parseBvlc(fs.readFileSync(PY2), PY2, LAYER_NAMES).get('fc7')![1].data,
    );
    expect(net.classNames).toEqual(['cat', 'dog']);
    net.dispose();
  });

  test('a shape that differs names the layer; bad files name the file', async () => {
    const net = new AlexNet({ device: 'cpu', classes: 10, inputSize: 99, widthScale: 1 / 8 });
    await expect(net.load(PY2)).rejects.toThrow(
      `${PY2}: conv1 weight has shape [11, 11, 3, 6] HWIO but the model expects [11, 11, 3, 12]`,
    );
    const missing = path.join(dir, 'missing.npy');
    await expect(net.load(missing)).rejects.toThrow(
      `Cannot read ${missing}: no such file or directory`,
    );
    const truncated = path.join(dir, 'truncated.npy');
    fs.writeFileSync(truncated, fs.readFileSync(PY2).subarray(0, 200_000));
    await expect(net.load(truncated)).rejects.toThrow(FormatError);
    await expect(net.load(truncated)).rejects.toThrow(
      new RegExp(`^Invalid pickle in ${truncated}: truncated: BINSTRING needs \\d+ more bytes`),
    );
    const numeric = path.join(DIR, 'x.npy');
    await expect(net.load(numeric)).rejects.toThrow(
      `${numeric} holds a plain '<f4' array of shape (2, 3, 99, 99), not the pickled dict of ` +
        "layers of bvlc_alexnet.npy ({'conv1': [W, b], ..., 'fc8': [W, b]})",
    );
    const text = path.join(dir, 'text.npy');
    fs.writeFileSync(text, 'conv1,conv2\n');
    await expect(net.load(text)).rejects.toThrow(
      `${text} is not a .npy file (it does not start with \\x93NUMPY)`,
    );
    await expect(net.load(path.join(dir, 'weights.h5'))).rejects.toThrow(
      `Expected a .safetensors checkpoint, a .npy file like bvlc_alexnet.npy or a .pth file like alexnet-owt-7be5be79.pth for file but received '${path.join(dir, 'weights.h5')}' of type string`,
    );
    net.dispose();
  });

  test('a file without a layer, or with one AlexNet does not have, is refused', async () => {
    const layers = [...parseBvlc(fs.readFileSync(PY2), PY2, LAYER_NAMES)].map(
      ([name, pair]) =>
        [name, pair.map((a) => ({ data: a.data, shape: a.shape }))] as [
          string,
          [FileArray, FileArray],
        ],
    );
    const noFc7 = path.join(dir, 'no-fc7.npy');
    writeBvlcNpy(
      noFc7,
      layers.filter(([name]) => name !== 'fc7'),
    );
    expect(() => parseBvlc(fs.readFileSync(noFc7), noFc7, LAYER_NAMES)).toThrow(
      `${noFc7} has no layer fc7 (it has conv1, conv2, conv3, conv4, conv5, fc6, fc8)`,
    );
    const extra = path.join(dir, 'extra.npy');
    writeBvlcNpy(extra, [...layers, ['fc9', layers[7][1]]]);
    expect(() => parseBvlc(fs.readFileSync(extra), extra, LAYER_NAMES)).toThrow(
      `${extra} has layers AlexNet does not (fc9); expected conv1, conv2, conv3, conv4, conv5, fc6, fc7, fc8`,
    );
  });

  test('full size: a 244 MB file loads into the 1000-class bvlc model with the ImageNet names', async () => {
    const net = new AlexNet({ device: 'cpu', classes: 1000, init: 'none' });
    const layers: [string, [FileArray, FileArray]][] = [];
    // Random bits, some of them NaN: only positions matter here, and toBe compares with
    // Object.is, for which every NaN is the same.
    const values = (n: number) => randomFillSync(new Float32Array(n));
    for (const p of net.parameters()) {
      const [layer, kind] = p.name.split('.');
      const s = p.value.shape;
      const shape =
        kind === 'bias' ? s : layer.startsWith('conv') ? [s[2], s[3], s[1], s[0]] : [s[1], s[0]];
      const array = { data: values(p.value.size), shape };
      if (kind === 'weight') layers.push([layer, [array, array]]);
      else layers[layers.length - 1][1][1] = array;
    }
    const file = path.join(dir, 'bvlc_alexnet.npy');
    writeBvlcNpy(file, layers);
    expect(fs.statSync(file).size).toBeGreaterThan(243_000_000);
    await net.load(file);
    expect(net.classNames).toBe(imagenetClasses());
    expect(net.classNames[386]).toBe('African elephant, Loxodonta africana');
    const fc6 = net
      .parameters()
      .find((p) => p.name === 'fc6.weight')!
      .value.toArray();
    const file6 = layers[5][1][0].data;
    // pool5 is 256 x 6 x 6: file row (y * 6 + x) * 256 + c is our column (c * 6 + y) * 6 + x.
    for (const [c, y, x, o] of [
      [255, 5, 5, 4095],
      [3, 2, 4, 17],
    ]) {
      expect(fc6[o * 9216 + (c * 6 + y) * 6 + x]).toBe(file6[((y * 6 + x) * 256 + c) * 4096 + o]);
    }
    fs.rmSync(file);
    net.dispose();
  });

  const full = process.env.ALEXNET_BVLC_FULL;
  (full ? test : test.skip)(
    `full size against PyTorch (ALEXNET_BVLC_FULL, from make_weights_fixture.py --full)${full ? '' : ' (skipped: ALEXNET_BVLC_FULL is not set; the 244 MB file is made on request)'}`,
    async () => {
      const net = new AlexNet({ device: 'cpu', classes: 1000, init: 'none' });
      await net.load(path.join(full!, 'full_py2.npy'));
      const x = readNpy(path.join(full!, 'x.npy'));
      const expected = readNpy(path.join(full!, 'logits.npy')).data;
      expectClose(
        await net.forward(x.data as Float32Array, x.shape[0]),
        expected,
        { rtol: 0, atol: LOGITS_RTOL * maxAbs(expected) },
        'logits',
      );
      net.dispose();
    },
  );
});

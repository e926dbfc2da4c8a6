/**
 * The public `bvlc_alexnet.npy` weights: Caffe's reference AlexNet (models/bvlc_alexnet)
 * converted for TensorFlow and saved by Python 2's numpy, as the AlexNet tutorials use them.
 *
 * The file is a .npy (numpy.lib.format) holding a 0-d object array, so its payload is a pickle
 * (lib/io/pickle.ts) of `{'conv1': [W, b], ..., 'fc8': [W, b]}` with float32 arrays in
 * TensorFlow's layouts, which this module turns into ours (PyTorch's):
 *
 * - conv W is (kh, kw, in / groups, out), HWIO, and becomes (out, in / groups, kh, kw): the
 *   transpose (3, 2, 0, 1). conv2, conv4 and conv5 keep Caffe's two groups: their filters see
 *   half the input channels, and the first half of the outputs reads the first half of the
 *   inputs, as in PyTorch's grouped convolution.
 * - fc W is (in, out), multiplied as x · W, and becomes (out, in).
 * - fc6's rows follow pool5 flattened in TensorFlow's (h, w, c) order; ours flattens (c, h, w),
 *   so row (h·W + w)·C + c of the file becomes column c·H·W + h·W + w of ours.
 *
 * Every shape is checked against the model, naming the layer that differs. float64 arrays (a
 * file re-saved after a conversion) are narrowed to float32.
 */
import { readFile } from 'node:fs/promises';
import { AlexNetError, FormatError, fileReadError } from '../errors';
import { NumpyArray, type PickleValue, unpickle } from './pickle';
import type { NamedArray } from './safetensors';

/** What the conversion needs to know about the model it loads into. */
export interface BvlcTarget {
  /** The file's layer keys, in order (the model's layer names: conv1 ... fc8). */
  layers: readonly string[];
  /** Our shape of every parameter, by PyTorch name (`conv1.weight`: [out, in / groups, kh, kw]). */
  shapes: Record<string, readonly number[]>;
  /** pool5's output for one image, [channels, height, width]: the order of fc6's inputs. */
  pool5: readonly [number, number, number];
}

/**
 * Reads a bvlc_alexnet.npy-style file into our parameter names and layouts, for the layers not
 * in `skip`. Throws an AlexNetError naming the file (and the layer) when it cannot be read, is
 * not a .npy of that structure, or a shape differs from the model's.
 */
export async function readBvlcWeights(
  file: string,
  target: BvlcTarget,
  skip: readonly string[] = [],
): Promise<Record<string, NamedArray>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw fileReadError(file, error);
  }
  const layers = parseBvlc(bytes, file, target.layers);
  const out: Record<string, NamedArray> = {};
  for (const name of target.layers) {
    if (skip.includes(name)) continue;
    const [weight, bias] = layers.get(name)!;
    const ours = target.shapes[`${name}.weight`];
    const isConv = name.startsWith('conv');
    const expected = isConv ? [ours[2], ours[3], ours[1], ours[0]] : [ours[1], ours[0]];
    checkShape(file, name, 'weight', weight.shape, expected, isConv ? 'HWIO' : '(in, out)');
    checkShape(file, name, 'bias', bias.shape, [ours[0]], '');
    const w = toFloat32(weight);
    out[`${name}.weight`] = {
      data: isConv ? hwioToOihw(w, expected) : inOutToOutIn(w, expected, name, target.pool5),
      shape: ours,
    };
    out[`${name}.bias`] = { data: toFloat32(bias), shape: [ours[0]] };
  }
  return out;
}

/** The layers of a bvlc_alexnet.npy file's bytes, each [W, b], in the file's layouts. */
export function parseBvlc(
  bytes: Uint8Array,
  file: string,
  layerNames: readonly string[],
): Map<string, [NumpyArray, NumpyArray]> {
  const { descr, shape, dataOffset } = npyHeader(bytes, file);
  if (!/^\|O\d*$/.test(descr)) {
    throw new FormatError(
      `${file} holds a plain '${descr}' array of shape (${shape}), not the pickled dict of ` +
        "layers of bvlc_alexnet.npy ({'conv1': [W, b], ..., 'fc8': [W, b]})",
    );
  }
  if (shape.trim() !== '') {
    throw new FormatError(
      `${file} holds an object array of shape (${shape}); bvlc_alexnet.npy holds a 0-d one (a dict)`,
    );
  }
  const root = unpickle(bytes.subarray(dataOffset), file);
  const dict =
    root instanceof NumpyArray && root.dtype === 'object' && root.shape.length === 0
      ? (root.data as readonly PickleValue[])[0]
      : root;
  if (!(dict instanceof Map)) {
    throw new FormatError(`${file}: expected a dict of layers in its object array`);
  }
  const layers = new Map<string, [NumpyArray, NumpyArray]>();
  for (const name of layerNames) {
    const value = dict.get(name);
    if (value === undefined) {
      throw new FormatError(
        `${file} has no layer ${name} (it has ${[...dict.keys()].join(', ') || 'none'})`,
      );
    }
    if (
      !Array.isArray(value) ||
      value.length !== 2 ||
      !value.every((a: PickleValue) => a instanceof NumpyArray && a.dtype !== 'object')
    ) {
      throw new FormatError(
        `${file}: layer ${name} is not a pair [weights, biases] of numeric arrays`,
      );
    }
    layers.set(name, value as [NumpyArray, NumpyArray]);
  }
  const extra = [...dict.keys()].filter((key) => !layerNames.includes(String(key)));
  if (extra.length > 0) {
    throw new FormatError(
      `${file} has layers AlexNet does not (${extra.join(', ')}); expected ${layerNames.join(', ')}`,
    );
  }
  return layers;
}

/** The header of a .npy file (numpy.lib.format, versions 1.0 to 3.0). */
function npyHeader(
  bytes: Uint8Array,
  file: string,
): { descr: string; shape: string; dataOffset: number } {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (bytes.length < 10 || magic !== '\x93NUMPY') {
    throw new FormatError(
      bytes.length === 0
        ? `${file} is empty, not a .npy file`
        : `${file} is not a .npy file (it does not start with \\x93NUMPY)`,
    );
  }
  const major = bytes[6];
  if (major < 1 || major > 3) {
    throw new FormatError(`${file}: unsupported .npy version ${major}.${bytes[7]} (1 to 3 are)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthSize = major === 1 ? 2 : 4;
  const length = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataOffset = 8 + lengthSize + length;
  if (dataOffset > bytes.length) throw new FormatError(`${file}: truncated .npy header`);
  const header = Buffer.from(bytes.subarray(8 + lengthSize, dataOffset)).toString(
    major === 3 ? 'utf8' : 'latin1',
  );
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  if (descr === undefined || shape === undefined || fortran === undefined) {
    throw new FormatError(`${file}: the .npy header is not a valid dictionary: ${header.trim()}`);
  }
  return { descr, shape, dataOffset };
}

function checkShape(
  file: string,
  layer: string,
  what: string,
  actual: readonly number[],
  expected: readonly number[],
  layout: string,
): void {
  if (actual.join() === expected.join()) return;
  const hint =
    layer === 'fc8' ? " (a different number of classes? load with { skip: ['fc8'] })" : '';
  throw new AlexNetError(
    `${file}: ${layer} ${what} has shape [${actual.join(', ')}]${layout ? ` ${layout}` : ''} ` +
      `but the model expects [${expected.join(', ')}]${hint}`,
  );
}

function toFloat32(array: NumpyArray): Float32Array {
  return array.data instanceof Float32Array
    ? array.data
    : Float32Array.from(array.data as Float64Array);
}

/** (kh, kw, in, out) to (out, in, kh, kw). */
function hwioToOihw(w: Float32Array, [kh, kw, cin, cout]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; ++y) {
    for (let x = 0; x < kw; ++x) {
      for (let i = 0; i < cin; ++i) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; ++o) out[((o * cin + i) * kh + y) * kw + x] = w[src + o];
      }
    }
  }
  return out;
}

/**
 * (in, out) to (out, in). For fc6, file row (h·W + w)·C + c (pool5 in HWC order) becomes our
 * input c·H·W + h·W + w (CHW order).
 */
function inOutToOutIn(
  w: Float32Array,
  [fin, fout]: readonly number[],
  layer: string,
  [channels, height, width]: readonly number[],
): Float32Array {
  const ours = new Int32Array(fin);
  for (let row = 0; row < fin; ++row) ours[row] = row;
  if (layer === 'fc6') {
    for (let y = 0; y < height; ++y) {
      for (let x = 0; x < width; ++x) {
        for (let c = 0; c < channels; ++c) {
          ours[(y * width + x) * channels + c] = (c * height + y) * width + x;
        }
      }
    }
  }
  const out = new Float32Array(w.length);
  for (let row = 0; row < fin; ++row) {
    const column = ours[row];
    const src = row * fout;
    for (let o = 0; o < fout; ++o) out[o * fin + column] = w[src + o];
  }
  return out;
}

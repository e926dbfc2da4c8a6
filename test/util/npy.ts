/**
 * A small, strict reader for the .npy files that scripts/make_fixtures.py writes (format:
 * numpy.lib.format, versions 1.0 to 3.0). It accepts little-endian float32 ('<f4') and int32 or
 * int64 ('<i4', '<i8') arrays in C order and refuses anything else with an error naming the
 * file, rather than guessing. loadFixture() reads one case folder of test/fixtures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export type NpyDtype = '<f4' | '<i4' | '<i8';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** float32 data as Float32Array; int32 and int64 data as Int32Array (int64 range-checked). */
  data: Float32Array | Int32Array;
}

const MAGIC = '\x93NUMPY';
const ITEM_SIZE: Record<NpyDtype, number> = { '<f4': 4, '<i4': 4, '<i8': 8 };

function headerField(header: string, key: string, pattern: string, file: string): string {
  const match = new RegExp(`'${key}':\\s*${pattern}`).exec(header);
  if (!match) throw new Error(`${file}: the .npy header has no valid '${key}' entry: ${header}`);
  return match[1];
}

export function readNpy(file: string): NpyArray {
  const bytes = fs.readFileSync(file);
  if (bytes.length < 10 || bytes.toString('latin1', 0, 6) !== MAGIC) {
    throw new Error(`${file}: not a .npy file (no \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  if (major < 1 || major > 3 || bytes[7] !== 0) {
    throw new Error(`${file}: unsupported .npy version ${major}.${bytes[7]} (expected 1.0 to 3.0)`);
  }
  const lengthSize = major === 1 ? 2 : 4;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const dataOffset = 8 + lengthSize + headerLength;
  if (dataOffset > bytes.length) throw new Error(`${file}: the .npy header is truncated`);
  const header = bytes.toString(major === 3 ? 'utf8' : 'latin1', 8 + lengthSize, dataOffset).trim();
  if (!header.startsWith('{') || !header.endsWith('}')) {
    throw new Error(`${file}: the .npy header is not a dictionary: ${header}`);
  }

  const descr = headerField(header, 'descr', "'([^']*)'", file);
  if (!(descr in ITEM_SIZE)) {
    const hint = descr.startsWith('>') ? ' (big-endian)' : '';
    throw new Error(
      `${file}: unsupported dtype '${descr}'${hint}; expected '<f4', '<i4' or '<i8' (little-endian)`,
    );
  }
  const dtype = descr as NpyDtype;
  if (headerField(header, 'fortran_order', '(True|False)', file) === 'True') {
    throw new Error(
      `${file}: Fortran-order arrays are not supported; save a C-order array (np.ascontiguousarray)`,
    );
  }
  const dims = headerField(header, 'shape', '\\(([^)]*)\\)', file)
    .split(',')
    .map((d) => d.trim())
    .filter((d) => d !== '');
  if (dims.some((d) => !/^\d+$/.test(d))) {
    throw new Error(`${file}: the .npy shape is not a tuple of sizes: ${header}`);
  }
  const shape = dims.map(Number);

  const count = shape.reduce((a, b) => a * b, 1);
  const dataLength = bytes.length - dataOffset;
  if (dataLength !== count * ITEM_SIZE[dtype]) {
    throw new Error(
      `${file}: expected ${count * ITEM_SIZE[dtype]} bytes of ${dtype} data for shape ` +
        `(${shape.join(', ')}) but the file holds ${dataLength}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataOffset, dataLength);
  if (dtype === '<f4') {
    const data = new Float32Array(count);
    for (let i = 0; i < count; ++i) data[i] = view.getFloat32(4 * i, true);
    return { dtype, shape, data };
  }
  const data = new Int32Array(count);
  for (let i = 0; i < count; ++i) {
    const value = dtype === '<i4' ? view.getInt32(4 * i, true) : view.getBigInt64(8 * i, true);
    if (value < -(2 ** 31) || value >= 2 ** 31) {
      throw new Error(`${file}: element ${i} (${value}) does not fit in int32`);
    }
    data[i] = Number(value);
  }
  return { dtype, shape, data };
}

export interface FixtureTensor<T extends Float32Array | Int32Array> {
  data: T;
  shape: number[];
}

/** What every meta.json holds besides the case's own parameters. */
export interface FixtureMeta {
  /** Every tensor of the case: name (path under the case folder, without .npy) -> layout. */
  tensors: Record<string, { shape: number[]; dtype: NpyDtype }>;
}

export interface Fixture<M> {
  /** The case's meta.json, typed by the caller as the parameters it expects. */
  meta: M & FixtureMeta;
  /** A float32 tensor, e.g. tensor('dx') or tensor('step1/conv1.weight'). */
  tensor(name: string): FixtureTensor<Float32Array>;
  /** An integer tensor (labels). */
  int32(name: string): FixtureTensor<Int32Array>;
}

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** Reads test/fixtures/<caseName>: made by scripts/make_fixtures.py, never by hand. */
export function loadFixture<M extends object = object>(caseName: string): Fixture<M> {
  const dir = path.join(FIXTURES, caseName);
  const metaFile = path.join(dir, 'meta.json');
  if (!fs.existsSync(metaFile)) {
    throw new Error(
      `No fixture ${metaFile}: run \`python3 scripts/make_fixtures.py\` (needs torch and numpy)`,
    );
  }
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  const read = (name: string, float: boolean) => {
    const file = path.join(dir, `${name}.npy`);
    const array = readNpy(file);
    if ((array.dtype === '<f4') !== float) {
      throw new Error(
        `${file}: expected ${float ? 'float32' : 'integer'} data but found ${array.dtype}`,
      );
    }
    return array;
  };
  return {
    meta,
    tensor: (name) => read(name, true) as FixtureTensor<Float32Array>,
    int32: (name) => read(name, false) as FixtureTensor<Int32Array>,
  };
}

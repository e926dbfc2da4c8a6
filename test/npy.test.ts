import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES, loadFixture, readNpy } from './util/npy';

/** A .npy file as numpy.lib.format writes it: magic, version, header length, padded header. */
function npyBytes(header: string, data: Buffer, major = 1): Buffer {
  const lengthSize = major === 1 ? 2 : 4;
  const unpadded = 6 + 2 + lengthSize + header.length + 1;
  const text = `${header}${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const prefix = Buffer.alloc(8 + lengthSize);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix[6] = major;
  if (major === 1) prefix.writeUInt16LE(text.length, 8);
  else prefix.writeUInt32LE(text.length, 8);
  return Buffer.concat([prefix, Buffer.from(text, 'latin1'), data]);
}

function floatsLE(values: number[]): Buffer {
  const out = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) out.writeFloatLE(v, 4 * i);
  return out;
}

describe('readNpy', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-npy-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function write(name: string, bytes: Buffer): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, bytes);
    return file;
  }

  test.each([1, 2, 3])('reads a little-endian float32 array, format version %i.0', (major) => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    const file = write(`v${major}.npy`, npyBytes(header, floatsLE([1, 2, 3, 4, 5, -0.5]), major));
    expect(readNpy(file)).toEqual({
      dtype: '<f4',
      shape: [2, 3],
      data: new Float32Array([1, 2, 3, 4, 5, -0.5]),
    });
  });

  test('reads a 0-d array and int64 labels (as Int32Array)', () => {
    const scalar = write(
      'scalar.npy',
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", floatsLE([2.5])),
    );
    expect(readNpy(scalar)).toMatchObject({ shape: [], data: new Float32Array([2.5]) });
    const int64 = Buffer.alloc(16);
    int64.writeBigInt64LE(7n, 0);
    int64.writeBigInt64LE(-3n, 8);
    const labels = write(
      'labels.npy',
      npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", int64),
    );
    expect(readNpy(labels)).toEqual({ dtype: '<i8', shape: [2], data: new Int32Array([7, -3]) });
  });

  test('rejects a Fortran-order array, naming the file', () => {
    const file = write(
      'fortran.npy',
      npyBytes(
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
        floatsLE([1, 2, 3, 4]),
      ),
    );
    expect(() => readNpy(file)).toThrow(`${file}: Fortran-order arrays are not supported`);
  });

  test('rejects big-endian data, naming the file', () => {
    const data = Buffer.alloc(8);
    data.writeFloatBE(1, 0);
    data.writeFloatBE(2, 4);
    const file = write(
      'big.npy',
      npyBytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data),
    );
    expect(() => readNpy(file)).toThrow(`${file}: unsupported dtype '>f4' (big-endian)`);
  });

  test('rejects other dtypes, a short file, a bad magic and an unknown version', () => {
    const f8 = write(
      'f8.npy',
      npyBytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", Buffer.alloc(8)),
    );
    expect(() => readNpy(f8)).toThrow(`${f8}: unsupported dtype '<f8'`);
    const short = write(
      'short.npy',
      npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", floatsLE([1, 2])),
    );
    expect(() => readNpy(short)).toThrow(
      `${short}: expected 12 bytes of <f4 data for shape (3) but the file holds 8`,
    );
    const text = write('text.npy', Buffer.from('x,y\n1,2\n'));
    expect(() => readNpy(text)).toThrow(`${text}: not a .npy file`);
    const v4 = npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", floatsLE([1]));
    v4[6] = 4;
    const v4File = write('v4.npy', v4);
    expect(() => readNpy(v4File)).toThrow(`${v4File}: unsupported .npy version 4.0`);
  });
});

describe('test/fixtures', () => {
  // The cases scripts/make_fixtures.py writes; other folders hold samples of other formats.
  const cases = ['conv_alexnet1', 'conv_groups', 'lrn', 'maxpool', 'small_alexnet', 'softmax_xent'];

  test.each(cases)('%s: every tensor has the shape and dtype its meta.json lists', (name) => {
    const fixture = loadFixture(name);
    const listed = Object.entries(fixture.meta.tensors);
    expect(listed.length).toBeGreaterThan(0);
    for (const [tensor, { shape, dtype }] of listed) {
      const array = readNpy(path.join(FIXTURES, name, `${tensor}.npy`));
      expect({ tensor, shape: array.shape, dtype: array.dtype }).toEqual({ tensor, shape, dtype });
      expect(array.data.length).toBe(shape.reduce((a, b) => a * b, 1));
    }
  });

  test('decodes values exactly: the max-pool input is a permutation of k / 64', () => {
    const { data } = loadFixture('maxpool').tensor('x');
    const sorted = Array.from(data).sort((a, b) => a - b);
    const half = Math.floor(data.length / 2);
    expect(sorted).toEqual(sorted.map((_, k) => (k - half) / 64));
  });

  test('tensor() and int32() check the kind of data', () => {
    const fixture = loadFixture('softmax_xent');
    expect(fixture.int32('labels').data).toBeInstanceOf(Int32Array);
    expect(() => fixture.int32('logits')).toThrow(
      'logits.npy: expected integer data but found <f4',
    );
    expect(() => fixture.tensor('labels')).toThrow(
      'labels.npy: expected float32 data but found <i4',
    );
  });

  test('names the script to run when a case is missing', () => {
    expect(() => loadFixture('no_such_case')).toThrow('run `python3 scripts/make_fixtures.py`');
  });
});

/**
 * The pickle reader against pickles Python wrote (test/fixtures/bvlc/pickles, written by
 * scripts/make_weights_fixture.py under protocols 2, 3 and 4), and against hand-made streams for
 * what Python's own writers never produce: hostile globals, unsupported opcodes, truncation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError } from '../lib/errors';
import { NumpyArray, type PickleValue, unpickle } from '../lib/io/pickle';
import { FIXTURES } from './util/npy';

const PICKLES = path.join(FIXTURES, 'bvlc', 'pickles');

/** A value in the JSON form of expected.json: arrays and bytes as plain objects. */
function plain(value: PickleValue): unknown {
  if (value instanceof NumpyArray) {
    return { dtype: value.dtype, shape: value.shape, data: Array.from(value.data as Float32Array) };
  }
  if (value instanceof Uint8Array) return { bytes: Array.from(value) };
  if (value instanceof Map) {
    return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]));
  }
  if (Array.isArray(value)) return value.map(plain);
  return value;
}

/** Bytes from a mix of opcode strings (Latin-1) and numbers. */
function stream(...parts: (string | number[])[]): Uint8Array {
  return Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))),
  );
}

/** A float32 numpy array in protocol 2, Python 2 style, with the given byte order. */
function float32Array(values: number[], order: '<' | '>'): Uint8Array {
  const data = Buffer.alloc(4 * values.length);
  for (const [i, v] of values.entries()) {
    if (order === '<') data.writeFloatLE(v, 4 * i);
    else data.writeFloatBE(v, 4 * i);
  }
  return stream(
    '\x80\x02cnumpy.core.multiarray\n_reconstruct\n',
    'cnumpy\nndarray\nK\x00\x85U\x01b\x87R',
    `(K\x01K${String.fromCharCode(values.length)}\x85cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R`,
    `(K\x03U\x01${order}NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb`,
    '\x89T',
    [data.length, 0, 0, 0],
    data.toString('latin1'),
    'tb.',
  );
}

describe('unpickle', () => {
  const expected = JSON.parse(fs.readFileSync(path.join(PICKLES, 'expected.json'), 'utf8'));

  test.each([2, 3, 4])('reads what Python 3 pickles under protocol %i', (protocol) => {
    const file = path.join(PICKLES, `protocol${protocol}.pkl`);
    const value = unpickle(fs.readFileSync(file), file);
    expect(plain(value)).toEqual(expected);
    // The array stored twice is one object in the pickle (a memo get) and reads the same twice.
    const dict = value as Map<string, PickleValue>;
    expect((dict.get('conv1') as PickleValue[])[0]).toBe(dict.get('again'));
  });

  test('reads Python 2 strings, either byte order, LONG_BINPUT and LONG_BINGET', () => {
    expect(plain(unpickle(float32Array([1.5, -2], '<'), 'le'))).toEqual({
      dtype: 'float32',
      shape: [2],
      data: [1.5, -2],
    });
    expect(plain(unpickle(float32Array([1.5, -2], '>'), 'be'))).toMatchObject({
      data: [1.5, -2],
    });
    // {'conv1': 'conv1'}: the key put at memo index 300 and the value fetched from there.
    const memo = stream('\x80\x02}(U\x05conv1r', [44, 1, 0, 0], 'j', [44, 1, 0, 0], 'u.');
    const conv1 = Array.from(Buffer.from('conv1'));
    expect(plain(unpickle(memo, 'memo.pkl'))).toEqual({ conv1: { bytes: conv1 } });
  });

  test('refuses globals outside numpy arrays, naming them; never runs anything', () => {
    const hostile = stream('\x80\x02cos\nsystem\nX\x07\x00\x00\x00echo hi\x85R.');
    expect(() => unpickle(hostile, 'evil.npy')).toThrow(FormatError);
    expect(() => unpickle(hostile, 'evil.npy')).toThrow(
      'Invalid pickle in evil.npy: refusing global os.system: only numpy arrays and dtypes ' +
        '(numpy.core.multiarray._reconstruct, numpy._core.multiarray._reconstruct, numpy.ndarray, ' +
        'numpy.dtype, _codecs.encode, __builtin__.bytes) are allowed (at byte 2)',
    );
    const stacked = stream('\x80\x04\x8c\x08builtins\x8c\x04eval\x93.');
    expect(() => unpickle(stacked, 'evil.pkl')).toThrow('refusing global builtins.eval');
    // numpy.ndarray is only an argument of _reconstruct, not something to call.
    const call = stream('\x80\x02cnumpy\nndarray\n).');
    expect(() => unpickle(stream('\x80\x02cnumpy\nndarray\n)R.'), 'x.pkl')).toThrow(
      'REDUCE on the global numpy.ndarray, which cannot be called',
    );
    expect(() => unpickle(call, 'x.pkl')).toThrow('STOP with 2 items on the stack (expected 1)');
  });

  test('names unsupported opcodes and protocols', () => {
    expect(() => unpickle(stream('\x80\x02(ios\nsystem\n.'), 'inst.pkl')).toThrow(
      'Invalid pickle in inst.pkl: unsupported opcode 0x69 (INST); this reader handles the ' +
        'numpy arrays, dicts, lists and tuples of protocols 2 to 4 (at byte 3)',
    );
    expect(() => unpickle(stream('\x80\x02\x81.'), 'newobj.pkl')).toThrow(
      'unsupported opcode 0x81 (NEWOBJ)',
    );
    expect(() => unpickle(stream('\x80\x05N.'), 'p5.pkl')).toThrow(
      'unsupported pickle protocol 5 (2 to 4 are supported) (at byte 0)',
    );
    expect(() => unpickle(stream('(lp0\n.'), 'p0.pkl')).toThrow(
      'it does not start with PROTO: protocols 0 and 1 are not supported (2 to 4 are)',
    );
  });

  test('a truncated or padded stream is an error naming the file', () => {
    const file = path.join(PICKLES, 'protocol3.pkl');
    const bytes = fs.readFileSync(file);
    expect(() => unpickle(bytes.subarray(0, bytes.length - 1), file)).toThrow(
      `Invalid pickle in ${file}: truncated: it ends before STOP (at byte ${bytes.length - 1})`,
    );
    // Cut inside the bytes of an array.
    // Cut inside the 24 bytes of the (2, 3) float32 array: its opcode is at byte 166.
    expect(() => unpickle(bytes.subarray(0, 180), file)).toThrow(
      `Invalid pickle in ${file}: truncated: SHORT_BINBYTES needs 24 more bytes at byte 168 ` +
        'but the pickle ends at byte 180 (at byte 166)',
    );
    expect(() => unpickle(Buffer.concat([bytes, Buffer.from('N')]), file)).toThrow(
      '1 bytes follow the STOP opcode',
    );
    expect(() => unpickle(new Uint8Array(0), 'empty.pkl')).toThrow(
      'Invalid pickle in empty.pkl: it is empty (at byte 0)',
    );
  });

  test('numpy state this reader does not understand is an error', () => {
    const int16 = stream('\x80\x02cnumpy\ndtype\nU\x02i2K\x00K\x01\x87R.');
    expect(() => unpickle(int16, 'i2.pkl')).toThrow(
      "numpy.dtype: unsupported dtype 'i2' (supported: f4, f8, O, O4, O8)",
    );
    const short = float32Array([1, 2], '<');
    // Claim 3 elements for 8 bytes of data.
    const patched = Buffer.from(short);
    patched[patched.indexOf(Buffer.from('K\x01K\x02', 'latin1')) + 3] = 3;
    expect(() => unpickle(patched, 'short.pkl')).toThrow(
      'numpy float32 array of shape (3) needs 12 bytes of data but has 8',
    );
  });

  test('tuples nested past 100 levels are an error, not a stack overflow', () => {
    const nested = (depth: number) => stream('\x80\x02N', '\x85'.repeat(depth), '.');
    let value = unpickle(nested(100), 'deep.pkl');
    for (let level = 0; level < 100; ++level) value = (value as readonly PickleValue[])[0];
    expect(value).toBeNull();
    expect(() => unpickle(nested(101), 'deep.pkl')).toThrow(
      'Invalid pickle in deep.pkl: tuples nested over 100 deep (at byte 103)',
    );
  });

  test('a memoized tuple appended many times is the same value each time', () => {
    // EMPTY_LIST, MARK, 1000 NONE, TUPLE, BINPUT 0, APPEND, then 999 x (BINGET 0, APPEND).
    const bytes = stream(
      '\x80\x02](',
      'N'.repeat(1000),
      't',
      [0x71, 0],
      'a',
      'h\x00a'.repeat(999),
      '.',
    );
    const list = unpickle(bytes, 'wide.pkl') as readonly PickleValue[];
    expect(list).toHaveLength(1000);
    expect(list[0]).toHaveLength(1000);
    expect(new Set(list).size).toBe(1);
  });
});

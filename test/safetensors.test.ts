import { promises as fsPromises, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, FormatError, ShapeError } from '../lib/errors';
import { type NamedArray, readSafetensors, writeSafetensors } from '../lib/io/safetensors';
import { Rng, testSeed } from './util/random';

const seed = testSeed();
const fixture = join(__dirname, 'fixtures', 'safetensors', 'sample.safetensors');

let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'alexnet-safetensors-'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

/** A file made by hand: the length prefix, the header text (unpadded) and the data bytes. */
async function rawFile(name: string, header: string | object, data = Buffer.alloc(0)) {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  const file = join(folder, name);
  await writeFile(file, Buffer.concat([length, text, data]));
  return file;
}

const f32 = (shape: number[], begin: number, end: number) => ({
  dtype: 'F32',
  shape,
  data_offsets: [begin, end],
});

describe(`safetensors (seed ${seed})`, () => {
  const rng = new Rng(seed);

  test('round-trips F32, I32, scalar and empty tensors with metadata', async () => {
    const tensors: Record<string, NamedArray> = {
      'conv1.weight': { data: rng.normal(96 * 3 * 11 * 11, 0.01), shape: [96, 3, 11, 11] },
      'conv1.bias': { data: rng.uniform(96), shape: [96] },
      labels: { data: rng.int(10, 1000), shape: [10] },
      step: { data: Int32Array.of(-7), shape: [] },
      empty: { data: new Float32Array(0), shape: [0, 3] },
    };
    const metadata = { epoch: '3', config: JSON.stringify({ lr: 0.01 }) };
    const file = join(folder, 'round-trip.safetensors');
    await writeSafetensors(file, tensors, metadata);

    const read = await readSafetensors(file);
    expect(read.metadata).toEqual(metadata);
    expect(Object.keys(read.tensors).sort()).toEqual(Object.keys(tensors).sort());
    for (const [name, { data, shape }] of Object.entries(tensors)) {
      expect(read.tensors[name].data).toEqual(data);
      expect(read.tensors[name].data.constructor).toBe(data.constructor);
      expect(read.tensors[name].shape).toEqual(shape);
    }
  });

  test('round-trips names that are special in JavaScript', async () => {
    const file = join(folder, 'names.safetensors');
    const tensors = JSON.parse('{"__proto__": 1, "constructor": 2, "": 3, "naïve.weight": 4}');
    for (const name of Object.keys(tensors)) {
      tensors[name] = { data: Float32Array.of(tensors[name]), shape: [1] };
    }
    await writeSafetensors(file, tensors);
    const read = await readSafetensors(file);
    expect(Object.keys(read.tensors).sort()).toEqual([
      '',
      '__proto__',
      'constructor',
      'naïve.weight',
    ]);
    expect(Object.getOwnPropertyDescriptor(read.tensors, '__proto__')?.value.data).toEqual(
      Float32Array.of(1),
    );
    expect(Object.getPrototypeOf(read.tensors)).toBe(Object.prototype);
  });

  test('writes the layout the format specifies', async () => {
    const file = join(folder, 'layout.safetensors');
    await writeSafetensors(file, {
      b: { data: Float32Array.of(1, 2), shape: [2] },
      a: { data: Int32Array.of(3), shape: [1] },
    });
    const bytes = readFileSync(file);
    const length = Number(bytes.readBigUInt64LE(0));
    // Padded with spaces so the data starts 8-byte aligned.
    expect(length % 8).toBe(0);
    const header = bytes.subarray(8, 8 + length).toString('utf8');
    expect(header).toMatch(/^\{.*\} *$/);
    // No metadata given: no __metadata__ key, as the reference writer does.
    expect(JSON.parse(header)).toEqual({
      b: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      a: { dtype: 'I32', shape: [1], data_offsets: [8, 12] },
    });
    const data = bytes.subarray(8 + length);
    expect(data.length).toBe(12);
    expect([data.readFloatLE(0), data.readFloatLE(4), data.readInt32LE(8)]).toEqual([1, 2, 3]);
  });

  test('reads a file written independently by scripts/make_safetensors_fixture.py', async () => {
    const { tensors, metadata } = await readSafetensors(fixture);
    expect(metadata).toEqual({
      format: 'pt',
      producer: 'make_safetensors_fixture.py',
      note: 'größe µ',
    });
    expect(Object.keys(tensors).sort()).toEqual(['brain', 'double', 'half', 'labels', 'weight']);
    expect(tensors.weight.shape).toEqual([2, 3]);
    expect(tensors.weight.data).toBeInstanceOf(Float32Array);
    expect(Array.from(tensors.weight.data)).toEqual([0.5, -1.25, 3, 1024, -0, Math.fround(0.1)]);
    expect(Object.is(tensors.weight.data[4], -0)).toBe(true);
    expect(tensors.labels.shape).toEqual([4]);
    expect(tensors.labels.data).toEqual(Int32Array.of(0, -1, 2147483647, -2147483648));
    // F16, BF16 and F64 widen to float32.
    expect(tensors.half.data).toEqual(Float32Array.of(1.5, -(2 ** -14), 2 ** -24));
    expect(tensors.brain.data).toEqual(Float32Array.of(1.5, -3.140625));
    expect(tensors.double.data).toEqual(Float32Array.of(0.1, -2.5));
  });

  describe('rejects broken files with a FormatError naming the file', () => {
    test('shorter than the 8-byte length', async () => {
      const file = join(folder, 'tiny.safetensors');
      await writeFile(file, Buffer.from([1, 2, 3]));
      await expect(readSafetensors(file)).rejects.toThrow(FormatError);
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: truncated: 3 bytes, fewer than the 8-byte header length`,
      );
    });

    test('shorter than its header length says', async () => {
      const file = join(folder, 'cut-header.safetensors');
      const whole = readFileSync(fixture);
      await writeFile(file, whole.subarray(0, 100));
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: truncated: the header is 392 bytes but only 92 bytes follow its length`,
      );
    });

    test('shorter than its tensors say', async () => {
      const file = join(folder, 'cut-data.safetensors');
      const whole = readFileSync(fixture);
      await writeFile(file, whole.subarray(0, whole.length - 3));
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: truncated: tensor 'double' ends at byte 66 of the data but only 63 bytes follow the header`,
      );
    });

    test('a header length beyond the reference limit', async () => {
      const file = join(folder, 'huge-header.safetensors');
      const bytes = Buffer.alloc(16);
      bytes.writeBigUInt64LE(2n ** 40n);
      await writeFile(file, bytes);
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: header length 1099511627776 exceeds the 100000000-byte limit`,
      );
    });

    test('a header that is not JSON', async () => {
      const file = await rawFile('not-json.safetensors', '{"a": {"dtype": "F32",');
      await expect(readSafetensors(file)).rejects.toThrow(FormatError);
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: the header is not JSON`,
      );
    });

    test('a header that is JSON but not an object', async () => {
      const file = await rawFile('array.safetensors', '[1, 2]');
      await expect(readSafetensors(file)).rejects.toThrow(
        'the header is [1, 2], not a JSON object',
      );
    });

    test('a header that is not UTF-8', async () => {
      const file = join(folder, 'latin1.safetensors');
      const text = Buffer.from('{"\xe9":1}', 'latin1');
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(text.length));
      await writeFile(file, Buffer.concat([length, text]));
      await expect(readSafetensors(file)).rejects.toThrow('the header is not valid UTF-8');
    });

    test('an unsupported dtype, by name', async () => {
      const file = await rawFile(
        'i64.safetensors',
        { big: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } },
        Buffer.alloc(8),
      );
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: tensor 'big' has unsupported dtype 'I64' of type string (supported: F32, I32, F16, BF16, F64)`,
      );
    });

    test('offsets that are negative or reversed', async () => {
      const negative = await rawFile('negative.safetensors', { a: f32([1], -4, 0) });
      await expect(readSafetensors(negative)).rejects.toThrow(
        "tensor 'a' has data_offsets [-4, 0], not [begin, end]",
      );
      const reversed = await rawFile('reversed.safetensors', { a: f32([1], 4, 0) });
      await expect(readSafetensors(reversed)).rejects.toThrow(
        "tensor 'a' has data_offsets [4, 0], not [begin, end]",
      );
    });

    test('offsets past the end of the data', async () => {
      const file = await rawFile(
        'past-end.safetensors',
        { a: f32([250], 0, 1000) },
        Buffer.alloc(8),
      );
      await expect(readSafetensors(file)).rejects.toThrow(
        "truncated: tensor 'a' ends at byte 1000 of the data but only 8 bytes follow the header",
      );
    });

    test('overlapping tensors', async () => {
      const file = await rawFile(
        'overlap.safetensors',
        { b: f32([2], 4, 12), a: f32([2], 0, 8) },
        Buffer.alloc(12),
      );
      await expect(readSafetensors(file)).rejects.toThrow(
        `Invalid safetensors file ${file}: tensors 'a' [0, 8] and 'b' [4, 12] overlap`,
      );
    });

    test('a gap between tensors', async () => {
      const file = await rawFile(
        'gap.safetensors',
        { a: f32([1], 0, 4), b: f32([1], 8, 12) },
        Buffer.alloc(12),
      );
      await expect(readSafetensors(file)).rejects.toThrow(
        'bytes [4, 8) of the data belong to no tensor',
      );
    });

    test('bytes after the last tensor', async () => {
      const file = await rawFile('trailing.safetensors', { a: f32([1], 0, 4) }, Buffer.alloc(6));
      await expect(readSafetensors(file)).rejects.toThrow(
        '2 bytes after the last tensor belong to no tensor (the data is 6 bytes, the header describes 4)',
      );
    });

    test('a shape that disagrees with the offsets', async () => {
      const file = await rawFile('mismatch.safetensors', { a: f32([3], 0, 8) }, Buffer.alloc(8));
      await expect(readSafetensors(file)).rejects.toThrow(
        "tensor 'a' of shape [3] and dtype F32 needs 12 bytes but its data_offsets [0, 8] span 8",
      );
    });

    test('a malformed shape or metadata', async () => {
      const shape = await rawFile('shape.safetensors', { a: f32([1.5], 0, 4) }, Buffer.alloc(4));
      await expect(readSafetensors(shape)).rejects.toThrow(
        "tensor 'a' has shape [1.5], not an array of sizes",
      );
      const metadata = await rawFile('metadata.safetensors', { __metadata__: { epoch: 3 } });
      await expect(readSafetensors(metadata)).rejects.toThrow(
        "__metadata__ 'epoch' is 3 of type number, not a string",
      );
    });
  });

  describe('validates what it writes', () => {
    const file = () => join(folder, 'invalid.safetensors');

    test('data must be a Float32Array or Int32Array', async () => {
      await expect(
        writeSafetensors(file(), { a: { data: [1, 2] as unknown as Float32Array, shape: [2] } }),
      ).rejects.toThrow(
        new ArgumentError(
          "Expected Float32Array or Int32Array for tensors['a'].data but received [1, 2]",
        ),
      );
    });

    test('the shape must match the data', async () => {
      const bad = writeSafetensors(file(), { a: { data: new Float32Array(5), shape: [2, 3] } });
      await expect(bad).rejects.toThrow(ShapeError);
      await expect(
        writeSafetensors(file(), { a: { data: new Float32Array(5), shape: [2, 3] } }),
      ).rejects.toThrow(
        "Expected data of length 6 for tensors['a'] of shape [2, 3] but received length 5",
      );
      await expect(
        writeSafetensors(file(), { a: { data: new Float32Array(1), shape: [-1] } }),
      ).rejects.toThrow("Expected integer >= 0 for tensors['a'].shape[0] but received -1");
    });

    test('metadata values must be strings', async () => {
      await expect(writeSafetensors(file(), {}, { epoch: 3 as unknown as string })).rejects.toThrow(
        "Expected string for metadata['epoch'] but received 3 of type number",
      );
    });

    test('__metadata__ is not a tensor name', async () => {
      await expect(
        writeSafetensors(file(), { __metadata__: { data: new Float32Array(1), shape: [1] } }),
      ).rejects.toThrow('Expected a tensor name other than __metadata__ for tensors');
    });
  });

  describe('writes atomically', () => {
    const previous = { w: { data: Float32Array.of(1, 2, 3), shape: [3] } };
    const next = { w: { data: Float32Array.of(4, 5, 6), shape: [3] } };

    test('a failed rename leaves the previous file and no temporary file', async () => {
      const dir = mkdtempSync(join(folder, 'rename-'));
      const file = join(dir, 'latest.safetensors');
      await writeSafetensors(file, previous);
      const rename = jest
        .spyOn(fsPromises, 'rename')
        .mockRejectedValue(Object.assign(new Error('EIO: simulated crash'), { code: 'EIO' }));
      await expect(writeSafetensors(file, next)).rejects.toThrow(
        `Cannot write ${file}: simulated crash (EIO); ${file} was left as it was`,
      );
      expect(rename).toHaveBeenCalledTimes(1);
      expect((await readSafetensors(file)).tensors.w.data).toEqual(previous.w.data);
      expect(readdirSync(dir)).toEqual(['latest.safetensors']);
    });

    // A write that fails part-way: the temporary name is a link to /dev/full, which accepts the
    // open and fails every write with ENOSPC, the way a full disk fails mid-checkpoint.
    (process.platform === 'linux' ? test : test.skip)(
      'a write that fails part-way leaves the previous file',
      async () => {
        const dir = mkdtempSync(join(folder, 'full-'));
        const file = join(dir, 'latest.safetensors');
        await writeSafetensors(file, previous);
        await symlink('/dev/full', `${file}.tmp-${process.pid}`);
        await expect(writeSafetensors(file, next)).rejects.toThrow(
          `Cannot write ${file}: no space left on device (ENOSPC); ${file} was left as it was`,
        );
        expect((await readSafetensors(file)).tensors.w.data).toEqual(previous.w.data);
        expect(readdirSync(dir)).toEqual(['latest.safetensors']);
      },
    );

    test('a successful write replaces the file and leaves no temporary file', async () => {
      const dir = mkdtempSync(join(folder, 'replace-'));
      const file = join(dir, 'latest.safetensors');
      await writeSafetensors(file, previous);
      await writeSafetensors(file, next);
      expect((await readSafetensors(file)).tensors.w.data).toEqual(next.w.data);
      expect(readdirSync(dir)).toEqual(['latest.safetensors']);
    });
  });
});

/**
 * The .pth reader (lib/io/pth.ts, lib/io/zip.ts, the 'torch' allow-list of lib/io/pickle.ts) on
 * files torch.save wrote (scripts/make_torchvision_fixtures.py): both formats give PyTorch's
 * values, and every hostile file is refused with a FormatError naming it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { FormatError } from '../lib/errors';
import { parsePth, readPth } from '../lib/io/pth';
import { ZipArchive } from '../lib/io/zip';
import { FIXTURES } from './util/npy';

const DIR = path.join(FIXTURES, 'torchvision');
const fixture = (name: string) => path.join(DIR, name);
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'alexnet-pth-'));

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** What readPth(file) throws, checked to be a FormatError whose message names `file`. */
async function refusal(file: string): Promise<string> {
  const error = await readPth(file).then(
    () => new Error(`${file} was read without error`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FormatError);
  expect((error as Error).message).toContain(file);
  return (error as Error).message;
}

describe('torch.save files', () => {
  const expected: Record<string, { shape: number[]; values: number[] }> = JSON.parse(
    fs.readFileSync(fixture('dtypes.json'), 'utf8'),
  );

  it.each(['dtypes.pth', 'dtypes_legacy.pth'])(
    '%s: shared storages at offsets, a transposed view, float16 and bfloat16 read as PyTorch reads them',
    async (name) => {
      const tensors = await readPth(fixture(name));
      expect(Object.keys(tensors)).toEqual(Object.keys(expected));
      for (const [key, { shape, values }] of Object.entries(expected)) {
        expect(tensors[key].shape).toEqual(shape);
        // Exact: float32 is copied, float16 and bfloat16 widen exactly, as .float() does.
        expect(Array.from(tensors[key].data)).toEqual(values);
      }
    },
  );

  it('the zip and legacy files of one state_dict hold the same tensors', async () => {
    const zip = await readPth(fixture('tv_zip.pth'));
    const legacy = await readPth(fixture('tv_legacy.pth'));
    expect(Object.keys(zip)).toEqual([
      'features.0.weight',
      'features.0.bias',
      'features.3.weight',
      'features.3.bias',
      'features.6.weight',
      'features.6.bias',
      'features.8.weight',
      'features.8.bias',
      'features.10.weight',
      'features.10.bias',
      'classifier.1.weight',
      'classifier.1.bias',
      'classifier.4.weight',
      'classifier.4.bias',
      'classifier.6.weight',
      'classifier.6.bias',
    ]);
    expect(zip['features.0.weight'].shape).toEqual([2, 3, 11, 11]);
    for (const key of Object.keys(zip)) {
      expect(legacy[key].shape).toEqual(zip[key].shape);
      expect(legacy[key].data).toEqual(zip[key].data);
    }
  });

  it('reads deflated entries as stored ones', () => {
    const archive = ZipArchive.open(fs.readFileSync(fixture('dtypes.pth')), 'dtypes.pth');
    const entries = [...archive.entries.keys()].map((name): [string, Uint8Array] => [
      name,
      archive.read(name),
    ]);
    const deflated = parsePth(zipOf(entries, { deflate: true }), 'deflated.pth');
    for (const [key, { values }] of Object.entries(expected)) {
      expect(Array.from(deflated[key].data)).toEqual(values);
    }
  });

  it("reads big-endian storages where <name>/byteorder says 'big' (PyTorch 2.1 and later)", () => {
    const archive = ZipArchive.open(fs.readFileSync(fixture('dtypes.pth')), 'dtypes.pth');
    // The storages' element sizes, in the order torch.save keyed them (make_torchvision_fixtures.py:
    // the shared float32 storage, the float32 matrix, float16, bfloat16).
    const elementBytes: Record<string, number> = { 0: 4, 1: 4, 2: 2, 3: 2 };
    const entries = [...archive.entries.keys()].map((name): [string, Uint8Array] => {
      const key = /data\/(\d)$/.exec(name)?.[1];
      const bytes = Buffer.from(archive.read(name));
      if (key !== undefined) {
        if (elementBytes[key] === 4) bytes.swap32();
        else bytes.swap16();
      }
      return [name, bytes];
    });
    entries.push(['dtypes/byteorder', Buffer.from('big')]);
    const swapped = parsePth(zipOf(entries), 'big.pth');
    for (const [key, { values }] of Object.entries(expected)) {
      expect(Array.from(swapped[key].data)).toEqual(values);
    }
  });

  it("takes a state_dict under 'state_dict' or 'model'", () => {
    // The dtypes file's pickle, wrapped: {'model': <the OrderedDict>} in protocol 2.
    const archive = ZipArchive.open(fs.readFileSync(fixture('dtypes.pth')), 'dtypes.pth');
    const inner = archive.read('dtypes/data.pkl');
    for (const key of ['state_dict', 'model']) {
      const wrapped = Buffer.concat([
        Buffer.from([0x80, 0x02, 0x7d, 0x58]),
        Buffer.from(Uint32Array.of(key.length).buffer),
        Buffer.from(key),
        inner.subarray(2, inner.length - 1), // the OrderedDict without PROTO and STOP
        Buffer.from([0x73, 0x2e]), // SETITEM, STOP
      ]);
      const entries = [...archive.entries.keys()].map((name): [string, Uint8Array] => [
        name,
        name.endsWith('data.pkl') ? wrapped : archive.read(name),
      ]);
      const tensors = parsePth(zipOf(entries), `${key}.pth`);
      expect(Object.keys(tensors)).toContain('half');
    }
  });
});

describe('hostile .pth files are refused with a FormatError naming the file', () => {
  it.each(['evil_global.pth', 'evil_global_legacy.pth'])(
    '%s: a GLOBAL outside the allow-list (os.system)',
    async (name) => {
      // Pickled by Python on Linux as posix.system: refused by its name.
      expect(await refusal(fixture(name))).toMatch(/refusing global (posix|os)\.system/);
    },
  );

  it('a zip bomb: 16 MiB of zeros declaring 1 KiB stop at 1 KiB', async () => {
    expect(await refusal(fixture('zip_bomb.pth'))).toContain(
      'the zip entry archive/data/0 inflates past its declared 1024 bytes',
    );
  });

  it('a zip entry declaring more than the cap is refused before inflating', () => {
    const big = zipOf([['archive/data.pkl', new Uint8Array(10)]], { declare: 2 ** 31 });
    expect(() => parsePth(big, 'declared.pth')).toThrow(
      'declared.pth: invalid zip archive: the entry archive/data.pkl declares 2147483648 bytes, more than the 1073741824 allowed',
    );
  });

  it('a tensor reaching past its storage', async () => {
    expect(await refusal(fixture('past_storage.pth'))).toContain(
      'a tensor of size (100), stride (1) at offset 0 reaches element 100 of storage 0, which holds 10',
    );
    expect(await refusal(fixture('stride_past_storage.pth'))).toContain(
      'reaches element 11 of storage 0, which holds 10',
    );
  });

  it('a broadcast (stride 0) view claiming 2^30 elements of a storage of 10', async () => {
    expect(await refusal(fixture('broadcast.pth'))).toContain(
      'has 1073741824 elements, more than its storage 0 holds (10); broadcast views are not supported',
    );
  });

  it('a storage whose entry is shorter than its elements', async () => {
    expect(await refusal(fixture('short_entry.pth'))).toContain(
      'storage 0 of 10 float32 elements needs 40 bytes but the file holds 24',
    );
  });

  it("an entry name with '..'", async () => {
    expect(await refusal(fixture('dotdot.pth'))).toContain(
      `unsafe entry name "archive/data/../../0" (it has a '..' segment)`,
    );
  });

  it.each(['tv_zip.pth', 'tv_legacy.pth', 'dtypes.pth', 'dtypes_legacy.pth'])(
    '%s truncated anywhere',
    async (name) => {
      const bytes = fs.readFileSync(fixture(name));
      const cuts = [0, 1, 10, 100, bytes.length >> 1, bytes.length - 100, bytes.length - 1];
      for (const cut of cuts) {
        const file = path.join(scratch, `cut-${cut}-${name}`);
        fs.writeFileSync(file, bytes.subarray(0, cut));
        await refusal(file);
      }
    },
  );

  it('a file of neither format', async () => {
    const file = path.join(scratch, 'text.pth');
    fs.writeFileSync(file, 'not a checkpoint');
    expect(await refusal(file)).toContain('is not a file written by torch.save');
  });
});

/**
 * A zip archive of `entries` (deflated when `deflate`), each declaring `declare` bytes of data
 * when given: APPNOTE.TXT's local headers, central directory and end record, no zip64.
 */
function zipOf(
  entries: [string, Uint8Array][],
  options: { deflate?: boolean; declare?: number } = {},
): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, raw] of entries) {
    const data = options.deflate ? deflateRawSync(raw) : Buffer.from(raw);
    const size = options.declare ?? raw.length;
    const stored = options.declare ?? data.length;
    const nameBytes = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(options.deflate ? 8 : 0, 8);
    local.writeUInt32LE(stored >>> 0, 18);
    local.writeUInt32LE(size >>> 0, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(options.deflate ? 8 : 0, 10);
    central.writeUInt32LE(stored >>> 0, 20);
    central.writeUInt32LE(size >>> 0, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

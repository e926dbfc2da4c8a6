/**
 * Structured inputs for the fuzz targets, where random bytes would stop at the first check: whole
 * pickle streams built from the opcodes this reader knows (and some it refuses), safetensors
 * files with generated headers, list files, and folder trees of image names.
 * Opcode values: CPython's Lib/pickletools.py.
 */
import fc from 'fast-check';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return [...b];
};

const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return [...b];
};

const latin1 = (text: string) => [...Buffer.from(text, 'latin1')];

/** Names GLOBAL may carry: the allowed ones, and ones a hostile file would use. */
const GLOBAL_NAMES = [
  'numpy.core.multiarray\n_reconstruct\n',
  'numpy\nndarray\n',
  'numpy\ndtype\n',
  '_codecs\nencode\n',
  '__builtin__\nbytes\n',
  'os\nsystem\n',
  'builtins\neval\n',
  // The 'torch' allow-list's (lib/io/pickle.ts).
  'collections\nOrderedDict\n',
  'torch._utils\n_rebuild_tensor_v2\n',
  'torch._utils\n_rebuild_tensor\n',
  'torch._utils\n_rebuild_parameter\n',
  'torch\nFloatStorage\n',
  'torch\nHalfStorage\n',
  'torch\nBFloat16Storage\n',
];

const text = fc.string({ maxLength: 12 });

/** One opcode with arguments of plausible, edge or hostile size. */
const opcode: fc.Arbitrary<readonly number[]> = fc.oneof(
  fc.constantFrom(
    [0x28], // MARK
    [0x4e], // NONE
    [0x88], // NEWTRUE
    [0x29], // EMPTY_TUPLE
    [0x74], // TUPLE
    [0x85], // TUPLE1
    [0x86], // TUPLE2
    [0x87], // TUPLE3
    [0x5d], // EMPTY_LIST
    [0x7d], // EMPTY_DICT
    [0x61], // APPEND
    [0x65], // APPENDS
    [0x73], // SETITEM
    [0x75], // SETITEMS
    [0x52], // REDUCE
    [0x62], // BUILD
    [0x93], // STACK_GLOBAL
    [0x94], // MEMOIZE
    [0x30], // POP (refused)
    [0x32], // DUP (refused)
    [0x51], // BINPERSID (the 'torch' allow-list's storages)
  ),
  fc.nat(255).map((n) => [0x4b, n]), // BININT1
  fc.integer().map((n) => [0x4a, ...u32(n)]), // BININT
  fc.nat(255).map((n) => [0x71, n]), // BINPUT
  fc.nat(255).map((n) => [0x68, n]), // BINGET
  fc.uint8Array({ maxLength: 9 }).map((b) => [0x8a, b.length, ...b]), // LONG1
  fc.double().map((x) => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(x);
    return [0x47, ...b]; // BINFLOAT
  }),
  text.map((s) => {
    const b = [...Buffer.from(s, 'utf8')];
    return b.length < 256 ? [0x8c, b.length, ...b] : [0x8e]; // SHORT_BINUNICODE
  }),
  fc.uint8Array({ maxLength: 40 }).map((b) => [0x43, b.length, ...b]), // SHORT_BINBYTES
  fc.uint8Array({ maxLength: 40 }).map((b) => [0x55, b.length, ...b]), // SHORT_BINSTRING
  fc.nat().map((n) => [0x42, ...u32(n)]), // BINBYTES with a length that may lie
  fc.nat().map((n) => [0x95, ...u64(n)]), // FRAME with a length that may lie
  fc.constantFrom(...GLOBAL_NAMES).map((name) => [0x63, ...latin1(name)]), // GLOBAL
  fc
    .constantFrom('f4', 'f8', 'O', 'i8', '<', '|', 'storage', 'cpu', '0')
    .map((name) => [0x8c, name.length, ...latin1(name)]),
);

/** PROTO 2..4 (and some refused versions), opcodes, STOP. */
export const pickleStream: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.constantFrom(2, 3, 4, 0, 5), fc.array(opcode, { maxLength: 60 }))
  .map(([protocol, ops]) => Uint8Array.from([0x80, protocol, ...ops.flat(), 0x2e]));

const dtype = fc.constantFrom('F32', 'I32', 'F16', 'BF16', 'F64', 'U8', 'f32', '');
const size = fc.oneof(fc.nat(8), fc.constantFrom(2 ** 31, 2 ** 32, 2 ** 53 - 1, -1, 1.5));

/** A tensor entry: usually well formed, sometimes any JSON in any field. */
const entry = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      dtype,
      shape: fc.array(size, { maxLength: 4 }),
      data_offsets: fc.array(size, { minLength: 2, maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** Metadata, often that of our checkpoints (lib/io/checkpoint.ts) with any JSON text in it. */
const metadata = fc.oneof(
  fc.record(
    {
      format: fc.oneof(fc.constant('alexnet-cudnn/1'), fc.string()),
      model: fc.oneof(fc.json({ maxDepth: 2 }), fc.string()),
      training: fc.option(fc.oneof(fc.json({ maxDepth: 2 }), fc.string()), { nil: undefined }),
    },
    { requiredKeys: ['format', 'model'] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A safetensors file: an 8-byte length (usually true), a generated header, some data. */
export const safetensorsFile: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__proto__')), entry, {
      maxKeys: 4,
    }),
    fc.option(metadata),
    fc.uint8Array({ maxLength: 96 }),
    fc.option(fc.oneof(fc.nat(), fc.constant(2 ** 40))),
  )
  .map(([tensors, meta, data, lie]) => {
    const header = meta === null ? tensors : { __metadata__: meta, ...tensors };
    const json = Buffer.from(JSON.stringify(header), 'utf8');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(lie ?? json.length));
    return Buffer.concat([length, json, data]);
  });

/** A safetensors file of `header` and no tensor data, its length true. */
export function headerOnly(header: unknown): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json]);
}

/** A valid safetensors file without tensors whose metadata is often our checkpoints'. */
export const checkpointFile: fc.Arbitrary<Uint8Array> = fc.oneof(
  metadata.map((meta) => headerOnly({ __metadata__: meta })),
  safetensorsFile,
);

/** Path-like text with spaces, dots, separators, non-ASCII and control characters. */
const pathText = fc.string({
  unit: fc.constantFrom(
    'a',
    'b',
    'é',
    '猫',
    ' ',
    '.',
    '/',
    '\\',
    '\t',
    '\r',
    '\0',
    'jpg',
    'png',
    '..',
  ),
  maxLength: 16,
});

const label = fc.oneof(
  fc.nat(5),
  fc.constantFrom('-1', '1e3', '0x1', '99999999999999999999', '4294967296', '2147483647', ''),
);

/** A list file (`path label` lines) and maybe a classes.txt beside it. */
export const imageListFiles = fc.record({
  list: fc
    .array(
      fc.tuple(
        pathText,
        fc.constantFrom(' ', '\t', '  '),
        label,
        fc.constantFrom('\n', '\r\n', '\r'),
      ),
      {
        maxLength: 12,
      },
    )
    .map((lines) => lines.map((parts) => parts.join('')).join('')),
  classes: fc.option(
    fc
      .array(fc.oneof(pathText, fc.constantFrom('cat', 'dog')), { maxLength: 6 })
      .map((names) => names.join('\n')),
  ),
});

/** Names for files and folders: Kaggle-style, hidden, odd extensions, odd characters. */
const entryName = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('cat', 'dog', '', '.', 'a b', 'é'),
      fc.constantFrom('.1', '.', '..x', ''),
      fc.constantFrom('.jpg', '.JPEG', '.png', '.txt', ''),
    )
    .map((p) => p.join('')),
  fc.string({
    unit: fc.constantFrom('a', '.', ' ', 'é', '-', 'g', 'j', 'p'),
    minLength: 1,
    maxLength: 10,
  }),
);

export interface TreeEntry {
  path: string[];
  folder: boolean;
}

/** Up to 12 entries, each a file or folder at depth 1 to 3. */
export const folderTree: fc.Arbitrary<TreeEntry[]> = fc.array(
  fc.record({ path: fc.array(entryName, { minLength: 1, maxLength: 3 }), folder: fc.boolean() }),
  { maxLength: 12 },
);

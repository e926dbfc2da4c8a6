/**
 * The tensors of a file written by `torch.save` (a `.pth` or `.pt`), in both of its formats
 * (torch/serialization.py, _save and _legacy_save; caffe2/serialize/inline_container.cc):
 *
 * - the zip format (PyTorch 1.6 and later, the default): a zip archive (lib/io/zip.ts) of
 *   `<name>/data.pkl`, the pickled object, `<name>/data/<key>`, each storage's raw bytes, and
 *   from PyTorch 2.1 `<name>/byteorder` ('little' or 'big'; absent, little-endian, the order of
 *   every machine that wrote files before it);
 * - the legacy format (`_use_new_zipfile_serialization=False`, and every file before 1.6):
 *   five pickles in a row, the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001,
 *   the writer's sys info, the object, and the list of storage keys; then, in that order, each
 *   storage as a little-endian int64 element count and its elements, little-endian
 *   (THPStorage_writeFileRaw converts them).
 *
 * The pickle goes through the strict reader (lib/io/pickle.ts) with the 'torch' allow-list, the
 * one `torch.load(weights_only=True)` uses for a state_dict: any other global is refused by name.
 * The object may be a state_dict or a dict holding one under 'state_dict' or 'model' (what
 * training scripts save). Storage sizes are checked against the bytes the file holds for them,
 * and each tensor's offset and strides against its storage; float16 and bfloat16 are widened
 * to float32. Every failure is a FormatError naming the file.
 */
import { readFile } from 'node:fs/promises';
import { FormatError, fileReadError } from '../errors';
import { STORED_FLOAT_BYTES, widenToFloat32 } from './float-widening';
import { type PickleValue, type TorchStorage, TorchTensor, unpickle, unpickleAt } from './pickle';
import type { NamedArray } from './safetensors';
import { ZipArchive } from './zip';

/** The pickled magic number that starts a legacy file: PROTO 2, LONG1 of 10 bytes, STOP. */
const LEGACY_MAGIC = Uint8Array.from([
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
]);
const LEGACY_PROTOCOL_VERSION = 1001;

/**
 * Reads `file` and returns its state_dict's tensors by name, as float32 in row-major order (which
 * may share memory with the file's bytes: no copy of float32 storages where none is needed).
 */
export async function readPth(file: string): Promise<Record<string, NamedArray>> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw fileReadError(file, error);
  }
  return parsePth(bytes, file);
}

/** The state_dict of a `torch.save` file's bytes (`file` names it in errors). */
export function parsePth(bytes: Uint8Array, file: string): Record<string, NamedArray> {
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return parseZipPth(bytes, file);
  if (startsWith(bytes, LEGACY_MAGIC)) return parseLegacyPth(bytes, file);
  if (bytes.length >= 262 && Buffer.from(bytes.subarray(257, 262)).toString('latin1') === 'ustar') {
    throw new FormatError(
      `${file} is in the tar format of PyTorch before 0.4, which is not supported; ` +
        'load and re-save it with a newer torch',
    );
  }
  throw new FormatError(
    bytes.length === 0
      ? `${file} is empty, not a file written by torch.save`
      : `${file} is not a file written by torch.save (neither a zip archive nor the legacy format)`,
  );
}

function startsWith(bytes: Uint8Array, prefix: ArrayLike<number>): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; ++i) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function parseZipPth(bytes: Uint8Array, file: string): Record<string, NamedArray> {
  const archive = ZipArchive.open(bytes, file);
  const pickles = [...archive.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new FormatError(
      `${file}: expected one <name>/data.pkl in the zip archive written by torch.save, found ${pickles.length}`,
    );
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  let littleEndian = true;
  if (archive.entries.has(`${prefix}byteorder`)) {
    const order = Buffer.from(archive.read(`${prefix}byteorder`)).toString('latin1');
    if (order !== 'little' && order !== 'big') {
      throw new FormatError(`${file}: ${prefix}byteorder is '${order}', not 'little' or 'big'`);
    }
    littleEndian = order === 'little';
  }
  const root = unpickle(archive.read(pickles[0]), file, 'torch');
  storagesOf(root, file);
  const storages = new StorageBytes(file, littleEndian, (storage) => {
    const name = `${prefix}data/${storage.key}`;
    if (!archive.entries.has(name)) {
      throw new FormatError(`${file}: storage ${storage.key} has no entry ${name} in the archive`);
    }
    return archive.read(name);
  });
  return stateDict(root, file, storages);
}

function parseLegacyPth(bytes: Uint8Array, file: string): Record<string, NamedArray> {
  let at = LEGACY_MAGIC.length;
  const next = () => {
    const { value, end } = unpickleAt(bytes, at, file, 'torch');
    at = end;
    return value;
  };
  const protocol = next();
  if (protocol !== LEGACY_PROTOCOL_VERSION) {
    throw new FormatError(
      `${file}: legacy format protocol ${protocol} (only ${LEGACY_PROTOCOL_VERSION} is known)`,
    );
  }
  const sysInfo = next();
  if (!(sysInfo instanceof Map) || sysInfo.get('little_endian') !== true) {
    throw new FormatError(`${file}: the legacy format's sys info does not say little_endian: True`);
  }
  const root = next();
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) {
    throw new FormatError(`${file}: the legacy format's storage keys are not a list of text`);
  }
  const declared = storagesOf(root, file);
  const data = new Map<string, Uint8Array>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const storage = declared.get(key);
    if (!storage) throw new FormatError(`${file}: storage ${key} is listed but no tensor uses it`);
    if (at + 8 > bytes.length)
      throw new FormatError(`${file}: truncated before storage ${key}'s size`);
    const numel = view.getBigInt64(at, true);
    if (numel !== BigInt(storage.numel)) {
      throw new FormatError(
        `${file}: storage ${key} holds ${numel} elements but the pickle says ${storage.numel}`,
      );
    }
    const length = storage.numel * STORED_FLOAT_BYTES[storage.dtype];
    if (at + 8 + length > bytes.length) {
      throw new FormatError(
        `${file}: truncated: storage ${key} needs ${length} bytes at byte ${at + 8} but the file ends at ${bytes.length}`,
      );
    }
    data.set(key, bytes.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  if (at !== bytes.length)
    throw new FormatError(`${file}: ${bytes.length - at} bytes follow the last storage`);
  const storages = new StorageBytes(file, true, (storage) => {
    const found = data.get(storage.key);
    if (!found)
      throw new FormatError(`${file}: storage ${storage.key} is not in the list of storages`);
    return found;
  });
  return stateDict(root, file, storages);
}

/**
 * Every storage the object's tensors use, by key, checking that each key always names the same
 * storage (each tensor's bounds were checked against its own description of it). Walks the object without recursion: a pickle can nest lists a million deep.
 */
function storagesOf(root: PickleValue, file: string): Map<string, TorchStorage> {
  const found = new Map<string, TorchStorage>();
  const pending: PickleValue[] = [root];
  const seen = new Set<object>();
  while (pending.length > 0) {
    const value = pending.pop()!;
    if (value instanceof TorchTensor) {
      const { key, dtype, numel } = value.storage;
      const known = found.get(key);
      if (known && (known.dtype !== dtype || known.numel !== numel)) {
        throw new FormatError(`${file}: storage ${key} is described in two different ways`);
      }
      found.set(key, value.storage);
    } else if (typeof value === 'object' && value !== null && !seen.has(value)) {
      // Memoized lists and dicts may appear many times; visit each once.
      seen.add(value);
      for (const item of value instanceof Map
        ? value.values()
        : Array.isArray(value)
          ? value
          : []) {
        pending.push(item);
      }
    }
  }
  return found;
}

/**
 * Each storage's bytes, widened to float32 once and shared by the tensors that view it (a view
 * of the file's bytes where they are float32 in host order and aligned, as PyTorch's zip aligns
 * them to 64 bytes).
 */
class StorageBytes {
  private readonly floats = new Map<string, Float32Array>();

  constructor(
    private readonly file: string,
    private readonly littleEndian: boolean,
    private readonly bytesOf: (storage: TorchStorage) => Uint8Array,
  ) {}

  get(storage: TorchStorage): Float32Array {
    const cached = this.floats.get(storage.key);
    if (cached) return cached;
    const bytes = this.bytesOf(storage);
    const expected = storage.numel * STORED_FLOAT_BYTES[storage.dtype];
    if (bytes.length !== expected) {
      throw new FormatError(
        `${this.file}: storage ${storage.key} of ${storage.numel} ${storage.dtype} elements needs ` +
          `${expected} bytes but the file holds ${bytes.length}`,
      );
    }
    const floats = widenToFloat32(bytes, storage.dtype, this.littleEndian);
    this.floats.set(storage.key, floats);
    return floats;
  }
}

/** The state_dict in `root` (itself, or under 'state_dict' or 'model'), its tensors copied out. */
function stateDict(
  root: PickleValue,
  file: string,
  storages: StorageBytes,
): Record<string, NamedArray> {
  const nested = ['state_dict', 'model'].find(
    (key) => root instanceof Map && root.get(key) instanceof Map,
  );
  const dict = nested === undefined ? root : (root as Map<string, PickleValue>).get(nested)!;
  if (!(dict instanceof Map)) {
    throw new FormatError(
      `${file} holds no state_dict (a dict of tensors, or one under 'state_dict' or 'model')`,
    );
  }
  const out: Record<string, NamedArray> = Object.create(null);
  for (const [name, value] of dict) {
    if (!(value instanceof TorchTensor)) {
      throw new FormatError(`${file}: state_dict entry ${JSON.stringify(name)} is not a tensor`);
    }
    out[String(name)] = { data: gather(value, storages.get(value.storage)), shape: value.shape };
  }
  return out;
}

/** The elements a strided view reads from its storage, in row-major order. */
function gather({ offset, shape, stride }: TorchTensor, storage: Float32Array): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const contiguous = shape.every(
    (_, i) => shape[i] === 1 || stride[i] === shape.slice(i + 1).reduce((a, b) => a * b, 1),
  );
  if (contiguous) {
    // The whole storage as it is (the usual parameter), else a copy of the part viewed.
    return offset === 0 && count === storage.length
      ? storage
      : storage.slice(offset, offset + count);
  }
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < count; ++i) {
    out[i] = storage[at];
    // Advance the multi-index like an odometer, moving `at` by the strides.
    for (let d = shape.length - 1; d >= 0; --d) {
      index[d] += 1;
      at += stride[d];
      if (index[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

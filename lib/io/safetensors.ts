/**
 * The safetensors checkpoint format (https://github.com/huggingface/safetensors, README "Format";
 * the checks follow the reference reader, safetensors/src/tensor.rs):
 *
 *   8 bytes   N, a little-endian u64
 *   N bytes   UTF-8 JSON: {"__metadata__": {string: string},
 *                          "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}}
 *             padded with spaces to a multiple of 8, so the data starts 8-byte aligned
 *   the rest  the tensors' little-endian bytes; offsets count from the start of this part
 *
 * The reader is as strict as the reference: the tensors must tile the data exactly, with no
 * overlap, no gap and nothing after the last one, so a truncated or spliced checkpoint fails here
 * with the file's name instead of loading as garbage weights.
 */

import { type FileHandle, open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { FormatError, ShapeError } from '../errors';
import { describe, fail, integer, isTypedArray } from '../validate';
import { writeFileAtomic } from './atomic';
import { describeJson } from './describe-json';
import { halfToFloat } from './float-widening';

/** A tensor's values in row-major order and its shape ([] for a scalar). */
export interface NamedArray {
  data: Float32Array | Int32Array;
  shape: readonly number[];
}

/** What `readSafetensors` returns: the tensors by name and the header's `__metadata__`. */
export interface SafetensorsContents {
  tensors: Record<string, NamedArray>;
  metadata: Record<string, string>;
}

/** The reference reader rejects larger headers (MAX_HEADER_SIZE in tensor.rs). */
const maxHeaderBytes = 100_000_000;

const hostIsLittleEndian = endianness() === 'LE';

/** The dtypes this reader understands; F16, BF16 and F64 (as PyTorch may save) widen to F32. */
const dtypes = {
  F32: { bytes: 4, decode: (raw: ArrayBuffer) => new Float32Array(toHostOrder32(raw)) },
  I32: { bytes: 4, decode: (raw: ArrayBuffer) => new Int32Array(toHostOrder32(raw)) },
  F16: { bytes: 2, decode: decodeF16 },
  BF16: { bytes: 2, decode: decodeBF16 },
  F64: { bytes: 8, decode: decodeF64 },
} as const;

type Dtype = keyof typeof dtypes;

interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Writes `tensors` (F32 for Float32Array, I32 for Int32Array) and optional string `metadata` to
 * `file` atomically: a crash mid-write leaves the previous `file`, never a torn one. Tensors are
 * laid out contiguously in the order of `tensors`' keys.
 */
export async function writeSafetensors(
  file: string,
  tensors: Record<string, NamedArray>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
  if (typeof tensors !== 'object' || tensors === null) fail('object', 'tensors', tensors);
  // No prototype: a tensor named "__proto__" must become a key, not replace the prototype.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata !== undefined) header.__metadata__ = checkMetadata(metadata);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === '__metadata__') fail('a tensor name other than __metadata__', 'tensors', name);
    const { data, shape } = checkTensor(name, tensor);
    header[name] = {
      dtype: isTypedArray(data, Float32Array) ? 'F32' : 'I32',
      shape,
      data_offsets: [offset, offset + data.byteLength],
    };
    offset += data.byteLength;
    chunks.push(littleEndianBytes(data));
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, ' ');
  json.copy(padded);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  await writeFileAtomic(file, [length, padded, ...chunks]);
}

/**
 * Reads a safetensors file. Throws a FormatError naming `file` if it is truncated, its header is
 * not JSON, its offsets are out of range, overlap or leave gaps, a tensor's shape and offsets
 * disagree, or a dtype is not one of F32, I32, F16, BF16, F64.
 */
export async function readSafetensors(file: string): Promise<SafetensorsContents> {
  if (typeof file !== 'string' || file === '') fail('non-empty string', 'file', file);
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const header = await readHeader(file, handle, size);
    const dataStart = 8 + header.length;
    const { entries, metadata } = parseHeader(file, header, size - dataStart);
    const tensors: [string, NamedArray][] = [];
    for (const entry of entries) {
      const raw = new ArrayBuffer(entry.end - entry.begin);
      await readExactly(file, handle, new Uint8Array(raw), dataStart + entry.begin);
      tensors.push([entry.name, { data: dtypes[entry.dtype].decode(raw), shape: entry.shape }]);
    }
    // fromEntries defines own properties, so a tensor named "__proto__" stays a tensor.
    return { tensors: Object.fromEntries(tensors), metadata };
  } finally {
    await handle.close();
  }
}

function invalid(file: string, problem: string): FormatError {
  return new FormatError(`Invalid safetensors file ${file}: ${problem}`);
}

function checkMetadata(metadata: unknown): Record<string, string> {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    fail('object of strings', 'metadata', metadata);
  }
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') fail('string', `metadata['${key}']`, value);
  }
  return metadata as Record<string, string>;
}

function checkTensor(name: string, tensor: unknown): NamedArray {
  const where = `tensors['${name}']`;
  if (typeof tensor !== 'object' || tensor === null) fail('{ data, shape }', where, tensor);
  const { data, shape } = tensor as Partial<NamedArray>;
  if (!isTypedArray(data, Float32Array) && !isTypedArray(data, Int32Array)) {
    fail('Float32Array or Int32Array', `${where}.data`, data);
  }
  if (!Array.isArray(shape)) fail('array of sizes', `${where}.shape`, shape);
  const dims = shape.map((d, i) => integer(`${where}.shape[${i}]`, d, 0));
  if (elementCount(dims) !== data.length) {
    throw new ShapeError(
      `Expected data of length ${elementCount(dims)} for ${where} of shape ${describe(dims)} ` +
        `but received length ${data.length}`,
    );
  }
  return { data, shape: dims };
}

/** The bytes of `data` in little-endian order: a view where the host is little-endian. */
function littleEndianBytes(data: Float32Array | Int32Array): Uint8Array {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return hostIsLittleEndian ? bytes : Buffer.from(bytes).swap32();
}

/** Puts little-endian 32-bit elements in host order, in place, for a typed array over them. */
function toHostOrder32(raw: ArrayBuffer): ArrayBuffer {
  if (!hostIsLittleEndian) Buffer.from(raw).swap32();
  return raw;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function decodeF16(raw: ArrayBuffer): Float32Array {
  const view = new DataView(raw);
  const out = new Float32Array(raw.byteLength / 2);
  for (let i = 0; i < out.length; ++i) out[i] = halfToFloat(view.getUint16(2 * i, true));
  return out;
}

/** bfloat16 is the top half of a float32, so widening is a 16-bit shift. */
function decodeBF16(raw: ArrayBuffer): Float32Array {
  const view = new DataView(raw);
  const out = new Float32Array(raw.byteLength / 2);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; ++i) bits[i] = view.getUint16(2 * i, true) << 16;
  return out;
}

function decodeF64(raw: ArrayBuffer): Float32Array {
  const view = new DataView(raw);
  const out = new Float32Array(raw.byteLength / 8);
  for (let i = 0; i < out.length; ++i) out[i] = view.getFloat64(8 * i, true);
  return out;
}

async function readExactly(
  file: string,
  handle: FileHandle,
  target: Uint8Array,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
    if (bytesRead === 0) {
      throw invalid(file, `truncated while reading: it ended at byte ${position + done}`);
    }
    done += bytesRead;
  }
}

async function readHeader(file: string, handle: FileHandle, size: number): Promise<Buffer> {
  if (size < 8) {
    throw invalid(file, `truncated: ${size} bytes, fewer than the 8-byte header length`);
  }
  const prefix = Buffer.alloc(8);
  await readExactly(file, handle, prefix, 0);
  const length = prefix.readBigUInt64LE();
  if (length > BigInt(maxHeaderBytes)) {
    throw invalid(file, `header length ${length} exceeds the ${maxHeaderBytes}-byte limit`);
  }
  if (8 + Number(length) > size) {
    throw invalid(
      file,
      `truncated: the header is ${length} bytes but only ${size - 8} bytes follow its length`,
    );
  }
  const header = Buffer.alloc(Number(length));
  await readExactly(file, handle, header, 8);
  return header;
}

function parseHeader(
  file: string,
  bytes: Buffer,
  dataLength: number,
): { entries: TensorEntry[]; metadata: Record<string, string> } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(file, 'the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw invalid(file, `the header is not JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw invalid(file, `the header is ${describeJson(header)}, not a JSON object`);
  }
  const entries: TensorEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(file, value);
    else entries.push(parseEntry(file, name, value));
  }
  checkLayout(file, entries, dataLength);
  return { entries, metadata };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(file, `__metadata__ is ${describeJson(value)}, not an object of strings`);
  }
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw invalid(file, `__metadata__ '${key}' is ${describeJson(item)}, not a string`);
    }
  }
  return Object.fromEntries(Object.entries(value));
}

function parseEntry(file: string, name: string, value: unknown): TensorEntry {
  const where = `tensor '${name}'`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(file, `${where} is ${describeJson(value)}, not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(dtypes, dtype)) {
    throw invalid(
      file,
      `${where} has unsupported dtype ${describeJson(dtype)} (supported: ${Object.keys(dtypes).join(', ')})`,
    );
  }
  const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw invalid(file, `${where} has shape ${describeJson(shape)}, not an array of sizes`);
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every(isCount) ||
    offsets[0] > offsets[1]
  ) {
    throw invalid(file, `${where} has data_offsets ${describeJson(offsets)}, not [begin, end]`);
  }
  const [begin, end] = offsets as [number, number];
  const bytes = elementCount(shape) * dtypes[dtype as Dtype].bytes;
  if (bytes !== end - begin) {
    throw invalid(
      file,
      `${where} of shape ${describeJson(shape)} and dtype ${dtype} needs ${bytes} bytes ` +
        `but its data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype: dtype as Dtype, shape, begin, end };
}

/** Sorts `entries` by offset and checks that they tile [0, dataLength) exactly. */
function checkLayout(file: string, entries: TensorEntry[], dataLength: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  entries.forEach((entry, i) => {
    if (entry.end > dataLength) {
      throw invalid(
        file,
        `truncated: tensor '${entry.name}' ends at byte ${entry.end} of the data ` +
          `but only ${dataLength} bytes follow the header`,
      );
    }
    if (entry.begin < cursor) {
      const previous = entries[i - 1];
      throw invalid(
        file,
        `tensors '${previous.name}' [${previous.begin}, ${previous.end}] and ` +
          `'${entry.name}' [${entry.begin}, ${entry.end}] overlap`,
      );
    }
    if (entry.begin > cursor) {
      throw invalid(file, `bytes [${cursor}, ${entry.begin}) of the data belong to no tensor`);
    }
    cursor = entry.end;
  });
  if (cursor < dataLength) {
    throw invalid(
      file,
      `${dataLength - cursor} bytes after the last tensor belong to no tensor ` +
        `(the data is ${dataLength} bytes, the header describes ${cursor})`,
    );
  }
}

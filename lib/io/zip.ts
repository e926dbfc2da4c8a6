/**
 * A reader of zip archives held in memory, for the files `torch.save` writes (PyTorch's
 * caffe2/serialize/inline_container.cc, through miniz). It follows PKWARE's APPNOTE.TXT 6.3:
 *
 * - the end of central directory record (signature 0x06054b50, the last 22 bytes plus a comment
 *   of up to 65535) and, where its fields are saturated or a zip64 locator (0x07064b50) precedes
 *   it, the zip64 end record (0x06064b50), which PyTorch always writes;
 * - central directory headers (0x02014b50), with the zip64 extended information extra field
 *   (id 0x0001) for saturated sizes and offsets; they alone are trusted for sizes, as PyTorch
 *   writes local headers with sizes 0 and a data descriptor after the data (flag bit 3);
 * - local file headers (0x04034b50), read only to find where the data starts (past the name and
 *   the extra field, in which PyTorch pads data to 64 bytes).
 *
 * Nothing is ever written to disk, and nothing is trusted: an entry's data must lie inside the
 * file before the central directory, stored entries must declare equal sizes, a deflated entry
 * is inflated (node:zlib) only up to its declared size, which may not pass `maxEntryBytes`, and
 * must reach it exactly; names with a `..` segment, absolute names, backslashes, duplicates,
 * encryption, split archives and methods other than stored and deflate are refused. Each
 * refusal is a FormatError naming the file.
 */
import { inflateRawSync } from 'node:zlib';
import { FormatError } from '../errors';

export interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflate. */
  method: 0 | 8;
  compressedSize: number;
  size: number;
  /** Where the entry's data starts in the archive's bytes. */
  dataOffset: number;
}

export interface ZipOptions {
  /**
   * The largest size an entry may declare. torchvision's AlexNet's largest storage (fc6's
   * weights) is 151 MB; a larger one is not a state_dict this package can load anyway.
   * @default 1 GiB
   */
  maxEntryBytes?: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;

/** The entries of a zip archive in memory; `read` returns an entry's bytes. */
export class ZipArchive {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  /**
   * Parses the central directory of `bytes` (`file` names it in errors). Throws a FormatError
   * for anything but a well-formed, single-disk, unencrypted archive of stored and deflated
   * entries with safe names.
   */
  static open(bytes: Uint8Array, file: string, options: ZipOptions = {}): ZipArchive {
    const reader = new Reader(bytes, file);
    const maxEntryBytes = options.maxEntryBytes ?? 2 ** 30;
    const { count, offset, size } = reader.endOfCentralDirectory();
    const entries = new Map<string, ZipEntry>();
    let at = offset;
    for (let i = 0; i < count; ++i) {
      const { next, ...entry } = reader.centralEntry(at, offset, maxEntryBytes);
      if (entries.has(entry.name)) reader.fail(`the entry ${entry.name} appears twice`);
      entries.set(entry.name, entry);
      at = next;
    }
    if (at !== offset + size) {
      reader.fail(
        `the central directory's ${count} entries end at byte ${at}, not ${offset + size}`,
      );
    }
    return new ZipArchive(bytes, file, entries);
  }

  /** The bytes of the entry `name`: a view of the archive when stored, inflated when deflated. */
  read(name: string): Uint8Array {
    const entry = this.entries.get(name);
    if (!entry) throw new FormatError(`${this.file}: the zip archive has no entry ${name}`);
    const data = this.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    if (entry.method === 0) return data;
    let inflated: Buffer;
    try {
      // maxOutputLength stops a zip bomb at its declared size instead of filling memory.
      inflated = inflateRawSync(data, { maxOutputLength: Math.max(1, entry.size) });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new FormatError(
        code === 'ERR_BUFFER_TOO_LARGE'
          ? `${this.file}: the zip entry ${name} inflates past its declared ${entry.size} bytes`
          : `${this.file}: the zip entry ${name} is not valid deflate data (${(error as Error).message})`,
      );
    }
    if (inflated.length !== entry.size) {
      throw new FormatError(
        `${this.file}: the zip entry ${name} inflates to ${inflated.length} bytes but declares ${entry.size}`,
      );
    }
    return inflated;
  }
}

/** Bounds-checked little-endian reads of the archive, failing with the file's name. */
class Reader {
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new FormatError(`${this.file}: invalid zip archive: ${problem}`);
  }

  private check(at: number, length: number, what: string): void {
    if (at < 0 || at + length > this.bytes.length) {
      this.fail(`truncated: ${what} at byte ${at} runs past the end (${this.bytes.length} bytes)`);
    }
  }

  u16(at: number): number {
    this.check(at, 2, 'a field');
    return this.view.getUint16(at, true);
  }

  u32(at: number): number {
    this.check(at, 4, 'a field');
    return this.view.getUint32(at, true);
  }

  u64(at: number): number {
    this.check(at, 8, 'a field');
    const value = this.view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      this.fail(`the size or offset ${value} is too large`);
    return Number(value);
  }

  /** Where the central directory is, from the end records. */
  endOfCentralDirectory(): { count: number; offset: number; size: number } {
    const end = this.findEndRecord();
    if (this.u16(end + 4) !== 0 || this.u16(end + 6) !== 0) {
      this.fail('split (multi-disk) archives are not supported');
    }
    let count = this.u16(end + 10);
    let size = this.u32(end + 12);
    let offset = this.u32(end + 16);
    const locator = end - 20;
    if (locator >= 0 && this.u32(locator) === ZIP64_LOCATOR) {
      const record = this.u64(locator + 8);
      if (this.u32(record) !== ZIP64_EOCD)
        this.fail('the zip64 locator points at no zip64 end record');
      count = this.u64(record + 32);
      size = this.u64(record + 40);
      offset = this.u64(record + 48);
    } else if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
      this.fail('the end record needs a zip64 end record, and there is none');
    }
    if (offset + size > (locator >= 0 && this.u32(locator) === ZIP64_LOCATOR ? locator : end)) {
      this.fail(`the central directory (${size} bytes at ${offset}) runs past its end record`);
    }
    return { count, offset, size };
  }

  /** The end of central directory record: the last signature whose comment reaches the end. */
  private findEndRecord(): number {
    const last = this.bytes.length - EOCD_SIZE;
    for (let at = last; at >= Math.max(0, last - MAX_COMMENT); --at) {
      if (
        this.view.getUint32(at, true) === EOCD &&
        at + EOCD_SIZE + this.u16(at + 20) === this.bytes.length
      ) {
        return at;
      }
    }
    return this.fail(
      this.bytes.length < EOCD_SIZE
        ? 'truncated: shorter than an end record'
        : 'no end of central directory record (truncated?)',
    );
  }

  /** The central directory header at `at`, checked, with its local header's data offset. */
  centralEntry(at: number, directory: number, maxEntryBytes: number): ZipEntry & { next: number } {
    if (this.u32(at) !== CENTRAL) this.fail(`no central directory header at byte ${at}`);
    const flags = this.u16(at + 8);
    const method = this.u16(at + 10);
    let compressedSize = this.u32(at + 20);
    let size = this.u32(at + 24);
    const nameLength = this.u16(at + 28);
    const extraLength = this.u16(at + 30);
    const commentLength = this.u16(at + 32);
    let local = this.u32(at + 42);
    this.check(at + 46, nameLength + extraLength + commentLength, 'a central directory header');
    const name = this.name(at + 46, nameLength);
    // Zip64 extended information: the saturated fields, in this order (APPNOTE 4.5.3).
    const saturated = {
      size: size === 0xffffffff,
      compressed: compressedSize === 0xffffffff,
      local: local === 0xffffffff,
    };
    if (saturated.size || saturated.compressed || saturated.local) {
      let field = this.extraField(at + 46 + nameLength, extraLength, 0x0001, name);
      if (saturated.size) {
        size = this.u64(field);
        field += 8;
      }
      if (saturated.compressed) {
        compressedSize = this.u64(field);
        field += 8;
      }
      if (saturated.local) local = this.u64(field);
    }
    if (flags & 0x41) this.fail(`the entry ${name} is encrypted`);
    if (method !== 0 && method !== 8) {
      this.fail(
        `the entry ${name} uses compression method ${method} (only stored and deflate are supported)`,
      );
    }
    if (method === 0 && compressedSize !== size) {
      this.fail(
        `the stored entry ${name} declares ${compressedSize} bytes stored but ${size} bytes of data`,
      );
    }
    if (size > maxEntryBytes) {
      this.fail(`the entry ${name} declares ${size} bytes, more than the ${maxEntryBytes} allowed`);
    }
    const dataOffset = this.localData(local, name, flags, compressedSize, size);
    if (dataOffset + compressedSize > directory) {
      this.fail(
        `the data of ${name} (${compressedSize} bytes at ${dataOffset}) runs into the central directory`,
      );
    }
    return {
      name,
      method,
      compressedSize,
      size,
      dataOffset,
      next: at + 46 + nameLength + extraLength + commentLength,
    };
  }

  /** Where the data of the entry whose local header is at `at` starts. */
  private localData(
    at: number,
    name: string,
    flags: number,
    compressedSize: number,
    size: number,
  ): number {
    if (this.u32(at) !== LOCAL) this.fail(`no local header for ${name} at byte ${at}`);
    const nameLength = this.u16(at + 26);
    const extraLength = this.u16(at + 28);
    this.check(at + 30, nameLength + extraLength, 'a local header');
    if (this.name(at + 30, nameLength) !== name) {
      this.fail(
        `the local header at byte ${at} names ${this.name(at + 30, nameLength)}, not ${name}`,
      );
    }
    // With a data descriptor (bit 3) the local sizes may be 0; otherwise they must agree.
    const localCompressed = this.u32(at + 18);
    const localSize = this.u32(at + 22);
    const deferred = (flags & 0x08) !== 0 && localCompressed === 0 && localSize === 0;
    const zip64 = localCompressed === 0xffffffff && localSize === 0xffffffff;
    if (!deferred && !zip64 && (localCompressed !== compressedSize || localSize !== size)) {
      this.fail(
        `the local header of ${name} declares ${localCompressed} / ${localSize} bytes but the central directory ${compressedSize} / ${size}`,
      );
    }
    return at + 30 + nameLength + extraLength;
  }

  /** Where the data of extra field `id` starts, within the extra fields at `at`. */
  private extraField(at: number, length: number, id: number, name: string): number {
    let field = at;
    while (field + 4 <= at + length) {
      const size = this.u16(field + 2);
      if (this.u16(field) === id) return field + 4;
      field += 4 + size;
    }
    return this.fail(`the entry ${name} has saturated sizes but no zip64 extra field`);
  }

  /** An entry name (UTF-8; PyTorch's are ASCII), refused if it could point outside the archive. */
  private name(at: number, length: number): string {
    const name = Buffer.from(this.bytes.subarray(at, at + length)).toString('utf8');
    if (name === '' || name.startsWith('/') || name.includes('\\') || name.includes('\0')) {
      this.fail(`unsafe entry name ${JSON.stringify(name)}`);
    }
    if (name.split('/').includes('..'))
      this.fail(`unsafe entry name ${JSON.stringify(name)} (it has a '..' segment)`);
    return name;
  }
}

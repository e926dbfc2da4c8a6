/**
 * A protocol buffer writer (https://protobuf.dev/programming-guides/encoding/): varints (wire
 * type 0), fixed64 (1), length-delimited fields (2) and fixed32 (5), the one definition behind
 * the TensorBoard event files (lib/io/tensorboard.ts) and the ONNX models (lib/io/onnx.ts).
 *
 * Ours rather than protobufjs: both formats need only these four wire types, about a hundred
 * lines, and no .proto parsing or generated code; and an ONNX model's initializers are hundreds
 * of megabytes that this writer keeps as the caller's byte views (a nested message is its
 * chunks, not a copy) and joins once, where a general library would copy them into its buffers.
 * Fields are written in the order called; proto3 expects field-number order, which callers keep.
 */

/** Appends fields; `finish()` returns the encoded message. */
export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  /** Small encoded pieces (keys, varints) gathered before they become one chunk. */
  private pending: number[] = [];
  private size = 0;

  /** The encoded length so far. */
  get byteLength(): number {
    return this.size + this.pending.length;
  }

  /** A varint field of a non-negative integer up to 2^53 (int32, int64, uint64, enum, bool). */
  varint(field: number, value: number): this {
    this.key(field, 0);
    this.unsigned(value);
    return this;
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleLE(value);
    this.pending.push(...bytes);
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    const bytes = Buffer.alloc(4);
    bytes.writeFloatLE(value);
    this.pending.push(...bytes);
    return this;
  }

  /** A length-delimited field holding `value`, kept as a view (not copied) until `finish`. */
  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.unsigned(value.length);
    this.chunk(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, Buffer.from(value, 'utf8'));
  }

  /** A nested message: its chunks are taken over, not copied. */
  message(field: number, value: ProtoWriter): this {
    this.key(field, 2);
    this.unsigned(value.byteLength);
    value.flushPending();
    for (const chunk of value.chunks) this.chunk(chunk);
    return this;
  }

  /** Bytes that are already encoded fields. */
  raw(value: Uint8Array): this {
    this.chunk(value);
    return this;
  }

  finish(): Uint8Array {
    this.flushPending();
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
  }

  private key(field: number, wireType: number): void {
    this.unsigned(field * 8 + wireType);
  }

  /** Base-128, least significant group first, high bit set on all but the last byte. */
  private unsigned(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `a protobuf varint here must be a non-negative safe integer, not ${value}`,
      );
    }
    let rest = value;
    while (rest >= 0x80) {
      this.pending.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.pending.push(rest);
  }

  private chunk(value: Uint8Array): void {
    this.flushPending();
    this.chunks.push(value);
    this.size += value.length;
  }

  private flushPending(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(Uint8Array.from(this.pending));
    this.size += this.pending.length;
    this.pending = [];
  }
}

/**
 * A TensorBoard event-file writer for scalars, in pure TypeScript.
 *
 * An event file is a TFRecord file (tensorflow/core/lib/io/record_writer.h) of serialized
 * `tensorflow.Event` protocol buffers. Each record is, little-endian,
 *
 *   u64 length | u32 masked CRC-32C of the length's 8 bytes | data | u32 masked CRC-32C of data
 *
 * and the messages used here are (tensorflow/core/util/event.proto,
 * tensorflow/core/framework/summary.proto):
 *
 *   Event   { double wall_time = 1; int64 step = 2;
 *             oneof what { string file_version = 3; Summary summary = 5; } }
 *   Summary { repeated Value value = 1; }
 *   Value   { string tag = 1; oneof value { float simple_value = 2; } }
 *
 * The first record carries file_version "brain.Event:2", as TensorFlow's EventsWriter
 * (tensorflow/core/util/events_writer.cc) writes it. Encoding
 * follows proto3 (https://protobuf.dev/programming-guides/encoding/), through lib/io/protobuf.ts:
 * fields in number order, fields at their default value left out, members of a oneof always
 * written.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DisposedError } from '../errors';
import { fail, integer } from '../validate';
import { crc32c } from './crc32c';
import { ProtoWriter } from './protobuf';

export interface SummaryWriterOptions {
  /**
   * Records that may wait in memory; one more starts a write without waiting for `flush()`.
   * @default 10 (max_queue of tf.summary.create_file_writer)
   */
  maxQueue?: number;
  /**
   * Longest time, in milliseconds, between writes of waiting records.
   * @default 120000 (flush_millis of tf.summary.create_file_writer)
   */
  flushMillis?: number;
}

/**
 * Writes scalars to `events.out.tfevents.<unix seconds>.<hostname>` in a log folder, the name
 * TensorFlow's EventsWriter uses. `addScalar` only encodes and queues a few dozen bytes; the file
 * is appended to asynchronously, so the training loop never waits on the disk.
 */
export class SummaryWriter {
  /** The event file this writer appends to. */
  readonly file: string;
  private readonly maxQueue: number;
  private readonly timer: NodeJS.Timeout;
  private queue: Uint8Array[] = [];
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closed = false;

  /**
   * Creates `logDir` if needed and writes the file-version record at once, so a folder that
   * cannot be written fails here rather than hours into training.
   */
  constructor(logDir: string, options: SummaryWriterOptions = {}) {
    if (typeof logDir !== 'string' || logDir === '') fail('non-empty string', 'logDir', logDir);
    if (typeof options !== 'object' || options === null) fail('object', 'options', options);
    this.maxQueue = integer('maxQueue', options.maxQueue ?? 10, 1);
    const flushMillis = integer('flushMillis', options.flushMillis ?? 120_000, 1);
    const now = Date.now();
    const seconds = String(Math.floor(now / 1000)).padStart(10, '0');
    this.file = join(logDir, `events.out.tfevents.${seconds}.${hostname()}`);
    mkdirSync(logDir, { recursive: true });
    appendFileSync(this.file, encodeRecord(encodeEvent(now / 1000, 0, fileVersion())));
    // unref: a pending flush must not keep a finished process alive; close() writes the rest.
    this.timer = setInterval(() => this.startWrite(), flushMillis).unref();
  }

  /** Queues one scalar. `value` may be NaN or infinite (a diverged loss is worth seeing). */
  addScalar(tag: string, value: number, step: number): void {
    if (this.closed) throw new DisposedError(`SummaryWriter ${this.file} has been closed`);
    if (typeof tag !== 'string' || tag === '') fail('non-empty string', 'tag', tag);
    if (typeof value !== 'number') fail('number', 'value', value);
    integer('step', step, 0);
    this.queue.push(encodeRecord(encodeEvent(Date.now() / 1000, step, scalarSummary(tag, value))));
    if (this.queue.length > this.maxQueue) this.startWrite();
  }

  /** Resolves once every queued record is in the file; rejects if any write failed. */
  async flush(): Promise<void> {
    await this.startWrite();
    if (this.failure) throw this.failure;
  }

  /** Flushes and stops the timer; later `addScalar` calls throw. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.flush();
  }

  /** Appends the queue after the writes already started, keeping records in order. */
  private startWrite(): Promise<void> {
    if (this.queue.length > 0) {
      const chunk = Buffer.concat(this.queue);
      this.queue = [];
      this.writing = this.writing.then(async () => {
        // After a failed append, later ones would leave a hole mid-file; keep the first error.
        if (this.failure) return;
        try {
          await appendFile(this.file, chunk);
        } catch (error) {
          this.failure = error as Error;
        }
      });
    }
    return this.writing;
  }
}

/** Frames `data` as one TFRecord. */
function encodeRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(8 + 4 + data.length + 4);
  record.writeBigUInt64LE(BigInt(data.length), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return record;
}

/**
 * TFRecord stores CRCs masked (tensorflow/core/lib/hash/crc32c.h, Mask): a CRC of bytes that
 * themselves contain CRCs is weak, so it is rotated right by 15 bits and offset by a constant.
 */
function maskedCrc32c(bytes: Uint8Array): number {
  const crc = crc32c(bytes);
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

/** An Event with `what`, one already-encoded member of its oneof. */
function encodeEvent(wallTime: number, step: number, what: Uint8Array): Uint8Array {
  const event = new ProtoWriter();
  if (wallTime !== 0) event.double(1, wallTime);
  if (step !== 0) event.varint(2, step);
  event.raw(what);
  return event.finish();
}

function fileVersion(): Uint8Array {
  return new ProtoWriter().string(3, 'brain.Event:2').finish();
}

/** Event.summary (field 5) holding one Value with a simple_value. */
function scalarSummary(tag: string, value: number): Uint8Array {
  const summaryValue = new ProtoWriter().string(1, tag).float(2, value).finish();
  const summary = new ProtoWriter().bytes(1, summaryValue).finish();
  return new ProtoWriter().bytes(5, summary).finish();
}

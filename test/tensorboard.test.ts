import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, DisposedError } from '../lib/errors';
import { crc32c } from '../lib/io/crc32c';
import { SummaryWriter } from '../lib/io/tensorboard';

let folder: string;
beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), 'alexnet-tensorboard-'));
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

/** TFRecord's CRC mask, written out from tensorflow/core/lib/hash/crc32c.h. */
const mask = (crc: number) => (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;

/** Splits a TFRecord file into its records' data, checking both CRCs of every record. */
function readRecords(bytes: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = Number(bytes.readBigUInt64LE(at));
    expect(bytes.readUInt32LE(at + 8)).toBe(mask(crc32c(bytes.subarray(at, at + 8))));
    const data = bytes.subarray(at + 12, at + 12 + length);
    expect(bytes.readUInt32LE(at + 12 + length)).toBe(mask(crc32c(data)));
    records.push(data);
    at += 8 + 4 + length + 4;
  }
  expect(at).toBe(bytes.length);
  return records;
}

/** A protobuf message's fields by number: varints as bigint, everything else as raw bytes. */
function decodeMessage(bytes: Buffer): Map<number, (bigint | Buffer)[]> {
  const fields = new Map<number, (bigint | Buffer)[]>();
  let at = 0;
  const varint = () => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const byte = bytes[at++];
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
  };
  const take = (length: number) => {
    at += length;
    return bytes.subarray(at - length, at);
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const wireType = key & 7;
    let value: bigint | Buffer;
    if (wireType === 0) value = varint();
    else if (wireType === 1) value = take(8);
    else if (wireType === 5) value = take(4);
    else if (wireType === 2) value = take(Number(varint()));
    else throw new Error(`unexpected wire type ${wireType}`);
    fields.set(key >> 3, [...(fields.get(key >> 3) ?? []), value]);
  }
  expect(at).toBe(bytes.length);
  return fields;
}

interface DecodedEvent {
  wallTime: number;
  step: number;
  fileVersion?: string;
  scalars: { tag: string; value: number }[];
}

function decodeEvent(bytes: Buffer): DecodedEvent {
  const event = decodeMessage(bytes);
  const only = (message: Map<number, (bigint | Buffer)[]>, field: number) =>
    message.get(field)?.[0];
  const summary = only(event, 5) as Buffer | undefined;
  const values = summary ? (decodeMessage(summary).get(1) as Buffer[]) : [];
  return {
    wallTime: (only(event, 1) as Buffer | undefined)?.readDoubleLE() ?? 0,
    step: Number((only(event, 2) as bigint | undefined) ?? 0n),
    fileVersion: (only(event, 3) as Buffer | undefined)?.toString('utf8'),
    scalars: values.map((value) => {
      const fields = decodeMessage(value);
      return {
        tag: (only(fields, 1) as Buffer).toString('utf8'),
        value: (only(fields, 2) as Buffer).readFloatLE(),
      };
    }),
  };
}

function eventsIn(dir: string): DecodedEvent[] {
  const [name] = readdirSync(dir);
  return readRecords(readFileSync(join(dir, name))).map(decodeEvent);
}

/** Waits (up to 5 s) for the writer's background append to put `records` records in `file`. */
async function waitForRecords(file: string, records: number): Promise<void> {
  for (let tries = 0; tries < 500; ++tries) {
    if (readRecords(readFileSync(file)).length === records) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${file} never held ${records} records`);
}

describe('crc32c', () => {
  test('equals the bytewise definition at every alignment and tail length', () => {
    // The polynomial applied one bit at a time (RFC 3720 section 12.1), against the eight-byte
    // slices: views starting at offsets 0-7 of their buffer, lengths 0-40 and a long one.
    const bitwise = (bytes: Uint8Array) => {
      let crc = 0xffffffff;
      for (const byte of bytes) {
        crc ^= byte;
        for (let bit = 0; bit < 8; ++bit) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
      }
      return (crc ^ 0xffffffff) >>> 0;
    };
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 131 + (i >> 3)) & 0xff);
    for (let offset = 0; offset < 8; ++offset) {
      for (const length of [...Array.from({ length: 41 }, (_, n) => n), 4989]) {
        const view = data.subarray(offset, offset + length);
        expect({ offset, length, crc: crc32c(view) }).toEqual({
          offset,
          length,
          crc: bitwise(view),
        });
      }
    }
  });

  test('matches the known answers', () => {
    // The CRC catalogue's check value for CRC-32C.
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    // RFC 3720 appendix B.4 lists the CRC bytes as sent, least significant first.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });
});

describe('SummaryWriter', () => {
  test('writes records that decode to the scalars, with valid CRCs', async () => {
    const dir = join(folder, 'decode');
    const before = Date.now() / 1000;
    const writer = new SummaryWriter(dir);
    writer.addScalar('train/loss', 2.25, 1);
    writer.addScalar('train/accuracy', 0.125, 1);
    writer.addScalar('val/top1', Number.NaN, 2);
    writer.addScalar('images_per_second', 1234.5, 2 ** 40);
    await writer.close();
    const after = Date.now() / 1000;

    const [name] = readdirSync(dir);
    expect(join(dir, name)).toBe(writer.file);
    const [, seconds, host] = /^events\.out\.tfevents\.(\d{10})\.(.+)$/.exec(name) ?? [];
    expect(host).toBe(hostname());
    expect(Number(seconds)).toBeGreaterThanOrEqual(Math.floor(before));
    expect(Number(seconds)).toBeLessThanOrEqual(after);
    const events = eventsIn(dir);
    expect(events).toHaveLength(5);
    expect(events[0]).toMatchObject({ step: 0, fileVersion: 'brain.Event:2', scalars: [] });
    for (const event of events) {
      expect(event.wallTime).toBeGreaterThanOrEqual(before);
      expect(event.wallTime).toBeLessThanOrEqual(after);
    }
    expect(events.slice(1).map(({ step, scalars }) => ({ step, scalars }))).toEqual([
      { step: 1, scalars: [{ tag: 'train/loss', value: 2.25 }] },
      { step: 1, scalars: [{ tag: 'train/accuracy', value: 0.125 }] },
      { step: 2, scalars: [{ tag: 'val/top1', value: Number.NaN }] },
      { step: 2 ** 40, scalars: [{ tag: 'images_per_second', value: 1234.5 }] },
    ]);
  });

  test('writes the same bytes as scripts/make_tfevents_fixture.py', async () => {
    jest.spyOn(Date, 'now').mockReturnValue(1700000000250);
    const dir = join(folder, 'fixture');
    const writer = new SummaryWriter(dir);
    writer.addScalar('train/loss', Math.LN2, 42);
    writer.addScalar('learning_rate', 0.01, 0);
    writer.addScalar('val/top1', 0.5, 300000000000);
    writer.addScalar('train/loss', Number.NaN, 43);
    await writer.close();
    expect(writer.file).toBe(join(dir, `events.out.tfevents.1700000000.${hostname()}`));
    const expected = readFileSync(join(__dirname, 'fixtures', 'tensorboard', 'sample.tfevents'));
    expect(readFileSync(writer.file).equals(expected)).toBe(true);
  });

  test('creates the file with its version record at once', () => {
    const writer = new SummaryWriter(join(folder, 'eager', 'nested'));
    expect(readRecords(readFileSync(writer.file)).map(decodeEvent)).toEqual([
      expect.objectContaining({ fileVersion: 'brain.Event:2' }),
    ]);
    return writer.close();
  });

  test('writes without flush() once more than maxQueue records wait', async () => {
    const writer = new SummaryWriter(join(folder, 'queue'), { maxQueue: 2 });
    writer.addScalar('a', 1, 1);
    writer.addScalar('a', 2, 2);
    writer.addScalar('a', 3, 3);
    await waitForRecords(writer.file, 4);
    await writer.close();
  });

  test('writes without flush() every flushMillis', async () => {
    const writer = new SummaryWriter(join(folder, 'timer'), { flushMillis: 20 });
    writer.addScalar('a', 1, 1);
    await waitForRecords(writer.file, 2);
    await writer.close();
  });

  test('keeps records in order across overlapping flushes', async () => {
    const dir = join(folder, 'order');
    const writer = new SummaryWriter(dir, { maxQueue: 1 });
    for (let step = 1; step <= 50; ++step) writer.addScalar('x', step, step);
    await writer.close();
    expect(eventsIn(dir).map((e) => e.step)).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });

  test('reports a failed write from flush() and close()', async () => {
    const dir = join(folder, 'vanishing');
    const writer = new SummaryWriter(dir);
    rmSync(dir, { recursive: true });
    writer.addScalar('a', 1, 1);
    await expect(writer.flush()).rejects.toThrow('ENOENT');
    await expect(writer.close()).rejects.toThrow('ENOENT');
  });

  test('rejects scalars after close()', async () => {
    const writer = new SummaryWriter(join(folder, 'closed'));
    await writer.close();
    await writer.close();
    expect(() => writer.addScalar('a', 1, 1)).toThrow(DisposedError);
    expect(() => writer.addScalar('a', 1, 1)).toThrow(
      `SummaryWriter ${writer.file} has been closed`,
    );
  });

  test('validates its arguments', async () => {
    expect(() => new SummaryWriter('')).toThrow(
      new ArgumentError("Expected non-empty string for logDir but received '' of type string"),
    );
    expect(() => new SummaryWriter(join(folder, 'options'), { maxQueue: 0 })).toThrow(
      'Expected positive integer for maxQueue but received 0 of type number',
    );
    const writer = new SummaryWriter(join(folder, 'arguments'));
    expect(() => writer.addScalar('loss', 1, -1)).toThrow(
      'Expected integer >= 0 for step but received -1 of type number',
    );
    expect(() => writer.addScalar('loss', 1, 0.5)).toThrow(
      'Expected integer >= 0 for step but received 0.5 of type number',
    );
    expect(() => writer.addScalar('', 1, 1)).toThrow(
      "Expected non-empty string for tag but received '' of type string",
    );
    expect(() => writer.addScalar('loss', '1' as unknown as number, 1)).toThrow(
      "Expected number for value but received '1' of type string",
    );
    await writer.close();
  });
});

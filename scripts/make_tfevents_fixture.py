#!/usr/bin/python3
"""Writes test/fixtures/tensorboard/sample.tfevents by hand, independently of
lib/io/tensorboard.ts, so the writer's bytes are checked against a second encoder.

Run: /usr/bin/python3 scripts/make_tfevents_fixture.py   (standard library only)

The file is what a SummaryWriter writes when the clock reads WALL_TIME throughout: the
file-version Event, then one Event per scalar in SCALARS. Sources of the format:
  TFRecord framing  tensorflow/core/lib/io/record_writer.h; masked CRC-32C in
                    tensorflow/core/lib/hash/crc32c.h (Mask)
  Event             tensorflow/core/util/event.proto: wall_time = 1 (double), step = 2 (int64),
                    file_version = 3 (string), summary = 5 (Summary)
  Summary           tensorflow/core/framework/summary.proto: value = 1 (repeated Value);
                    Value: tag = 1 (string), simple_value = 2 (float)
  Wire format       https://protobuf.dev/programming-guides/encoding/ (proto3 leaves out fields
                    at their default value, such as step 0; oneof members are always written)
"""
import math
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'tensorboard',
                   'sample.tfevents')

# Exact in binary, so Date.now() = 1700000000250 ms gives the same double in the test.
WALL_TIME = 1700000000.25
# (tag, value, step): a step of 0 (left out), and one above 2^32 (a six-byte varint).
SCALARS = [
    ('train/loss', math.log(2), 42),
    ('learning_rate', 0.01, 0),
    ('val/top1', 0.5, 300000000000),
    ('train/loss', float('nan'), 43),
]


def crc32c_table():
    # Reflected Castagnoli polynomial, one entry per byte value.
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(field, wire_type):
    return varint(field << 3 | wire_type)


def length_delimited(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def event(wall_time, step, what):
    out = key(1, 1) + struct.pack('<d', wall_time)
    if step != 0:
        out += key(2, 0) + varint(step)
    return out + what


def scalar(tag, value):
    summary_value = length_delimited(1, tag.encode('utf-8')) + key(2, 5) + struct.pack('<f', value)
    summary = length_delimited(1, summary_value)
    return length_delimited(5, summary)


def record(data):
    length = struct.pack('<Q', len(data))
    return length + struct.pack('<I', masked_crc(length)) + data + struct.pack('<I', masked_crc(data))


def main():
    assert crc32c(b'123456789') == 0xE3069283, 'the CRC-32C check value'
    records = [record(event(WALL_TIME, 0, length_delimited(3, b'brain.Event:2')))]
    records += [record(event(WALL_TIME, step, scalar(tag, value))) for tag, value, step in SCALARS]
    with open(OUT, 'wb') as f:
        f.write(b''.join(records))
    print(f'wrote {os.path.normpath(OUT)}: {sum(map(len, records))} bytes')


if __name__ == '__main__':
    main()

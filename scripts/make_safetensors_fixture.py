#!/usr/bin/python3
"""Writes test/fixtures/safetensors/sample.safetensors by hand from the format's README
(https://github.com/huggingface/safetensors, "Format"), independently of lib/io/safetensors.ts,
so the reader is tested against bytes it did not produce.

Run: /usr/bin/python3 scripts/make_safetensors_fixture.py   (needs numpy only)

The header lists the tensors in name order while the data holds them in another order, and the
metadata has non-ASCII text, so the reader must follow data_offsets and count the header's length
in bytes, not characters. The values are exact in their dtypes (float32 0.1 is the nearest
float32, as Math.fround gives), so the test compares exactly.
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'safetensors',
                   'sample.safetensors')


def bf16_bytes(values):
    # numpy has no bfloat16: it is the high 16 bits of a float32 (these values need no rounding).
    bits = np.asarray(values, dtype='<f4').view('<u4')
    assert np.all(bits & 0xFFFF == 0), 'value not exact in bfloat16'
    return (bits >> 16).astype('<u2').tobytes()


# (name, dtype, shape, little-endian bytes), in data order. 0.1 becomes the float32 nearest it,
# as Math.fround(0.1) does in the test.
TENSORS = [
    ('weight', 'F32', [2, 3],
     np.array([[0.5, -1.25, 3.0], [1024.0, -0.0, 0.1]], dtype='<f4').tobytes()),
    ('labels', 'I32', [4], np.array([0, -1, 2147483647, -2147483648], dtype='<i4').tobytes()),
    # 1.5, the smallest normal (2^-14) negated, and the smallest subnormal (2^-24).
    ('half', 'F16', [3], np.array([1.5, -2.0**-14, 2.0**-24], dtype='<f2').tobytes()),
    ('brain', 'BF16', [2], bf16_bytes([1.5, -3.140625])),
    ('double', 'F64', [2], np.array([0.1, -2.5], dtype='<f8').tobytes()),
]
METADATA = {'format': 'pt', 'producer': 'make_safetensors_fixture.py', 'note': 'größe µ'}


def main():
    header = {'__metadata__': METADATA}
    offset = 0
    for name, dtype, shape, data in TENSORS:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, sort_keys=True, ensure_ascii=False, separators=(',', ':'))
    raw = text.encode('utf-8')
    raw += b' ' * (-len(raw) % 8)
    with open(OUT, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for _, _, _, data in TENSORS:
            f.write(data)
    print(f'wrote {os.path.normpath(OUT)}: {8 + len(raw) + offset} bytes')


if __name__ == '__main__':
    main()

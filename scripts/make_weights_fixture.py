#!/usr/bin/python3
"""Writes the fixtures of the bvlc_alexnet.npy reader (lib/io/bvlc.ts and lib/io/pickle.ts).

The public bvlc_alexnet.npy is a .npy file whose payload is a 0-d object array pickled by
Python 2's numpy (pickle protocol 2): a dict {'conv1': [W, b], ..., 'fc8': [W, b]} of float32
arrays, with names and raw data as Python 2 strings (SHORT_BINSTRING / BINSTRING). Python 3
cannot write those opcodes (it pickles bytes as _codecs.encode calls under protocol 2), so the
Python-2 variant is written by a pickler that emits strings as Python 2 did: Python's own
pure-Python pickler, with bytes and str saved as Python 2 str and numpy dtypes reduced with the
integer flags Python 2's numpy used. Everything else (memo puts and gets, tuples, GLOBAL names)
is the standard protocol-2 stream.

Output, in test/fixtures/bvlc/:
  small_py2.npy     the bvlc AlexNet at width 1/16 with 10 classes (input 99), Python-2 form
  small_py3.npy     the same dict saved by np.save under Python 3 (protocol 3, SHORT_BINBYTES)
  x.npy, logits.npy fixed inputs (NCHW, BGR, mean subtracted) and PyTorch's logits for them
  pickles/protocol{2,3,4}.pkl, pickles/expected.json
                    one small structure pickled by Python 3 under each protocol (protocol 2
                    pickles bytes via _codecs.encode; 4 adds FRAME, MEMOIZE, STACK_GLOBAL,
                    SHORT_BINUNICODE), and what it holds, as JSON
  meta.json         the layouts, widths and inputs

The logits are computed from the arrays as the file stores them, the way the TensorFlow
tutorials use this file (conv filters HWIO, pool5 flattened in HWC order and multiplied by fc6's
(in, out) matrix), independently of our conversion to PyTorch's layouts.

With --full DIR it also writes DIR/full_py2.npy (the full-size bvlc AlexNet, 1000 classes, 244
MB, random weights), DIR/x.npy and DIR/logits.npy, for the optional full-size check in
test/bvlc.test.ts (ALEXNET_BVLC_FULL=DIR). Those files are too large to commit.

Run: /usr/bin/python3 scripts/make_weights_fixture.py [--full DIR]   (needs numpy and torch)
"""
import argparse
import io
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'bvlc'

# Caffe's bvlc_reference LRN (models/bvlc_alexnet/deploy.prototxt); PyTorch divides alpha by the
# window size as Caffe does.
LRN = {'size': 5, 'alpha': 1e-4, 'beta': 0.75, 'k': 1.0}
# deploy.prototxt: (name, kernel, stride, pad, groups, LRN and max-pool after the ReLU).
CONVS = [
    ('conv1', 11, 4, 0, 1, True, True),
    ('conv2', 5, 1, 2, 2, True, True),
    ('conv3', 3, 1, 1, 1, False, False),
    ('conv4', 3, 1, 1, 2, False, False),
    ('conv5', 3, 1, 1, 2, False, True),
]
FULL_WIDTHS = [96, 256, 384, 384, 256, 4096, 4096]


def conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


def pool5_side(input_size):
    size = input_size
    for _, kernel, stride, pad, _, _, has_pool in CONVS:
        size = conv_out(size, kernel, stride, pad)
        if has_pool:
            size = conv_out(size, 3, 2, 0)
    return size


def bvlc_layers(widths, classes, input_size, generator):
    """{name: [W, b]} in the file's layouts: conv W (kh, kw, in / groups, out), fc W (in, out)
    with fc6's rows in pool5's (h, w, c) order. He-scaled normal weights, small biases."""
    layers = {}
    cin = 3
    for (name, kernel, _, _, groups, _, _), cout in zip(CONVS, widths[:5]):
        fan_in = kernel * kernel * cin // groups
        w = torch.randn(kernel, kernel, cin // groups, cout, generator=generator)
        layers[name] = [w * (2 / fan_in) ** 0.5, torch.randn(cout, generator=generator) * 0.05]
        cin = cout
    side = pool5_side(input_size)
    fcs = [('fc6', side * side * widths[4], widths[5]), ('fc7', widths[5], widths[6]),
           ('fc8', widths[6], classes)]
    for name, fin, fout in fcs:
        w = torch.randn(fin, fout, generator=generator) * (2 / fin) ** 0.5
        layers[name] = [w, torch.randn(fout, generator=generator) * 0.05]
    return {name: [t.numpy().astype('<f4') for t in pair] for name, pair in layers.items()}


def logits_from_file_layout(layers, x):
    """AlexNet's forward pass on NCHW x, reading the weights in the file's own layouts."""
    a = torch.from_numpy(x)
    for name, _, stride, pad, groups, has_lrn, has_pool in CONVS:
        w, b = (torch.from_numpy(np.ascontiguousarray(t)) for t in layers[name])
        # HWIO -> OIHW is what an HWIO filter means; groups split inputs and outputs in halves.
        a = F.conv2d(a, w.permute(3, 2, 0, 1), b, stride=stride, padding=pad, groups=groups)
        a = torch.relu(a)
        if has_lrn:
            a = F.local_response_norm(a, **LRN)
        if has_pool:
            a = F.max_pool2d(a, kernel_size=3, stride=2)
    a = a.permute(0, 2, 3, 1).flatten(1)  # pool5 in (h, w, c) order, as the file's fc6 rows
    for name in ['fc6', 'fc7', 'fc8']:
        w, b = (torch.from_numpy(t) for t in layers[name])
        a = a @ w + b
        if name != 'fc8':
            a = torch.relu(a)
    return a.numpy()


class Python2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's numpy wrote it: str and bytes are Python 2 str (SHORT_BINSTRING
    below 256 bytes, BINSTRING above, memoized as cPickle did), and a dtype reduces to
    (dtype, (name, 0, 1), state) with the integer flags of Python 2's numpy."""

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def save_python2_str(self, obj):
        data = obj.encode('latin1') if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + struct.pack('<B', len(data)) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(data)) + data)
        self.memoize(obj)

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[str] = save_python2_str
    dispatch[bytes] = save_python2_str

    def reducer_override(self, obj):
        if isinstance(obj, np.dtype):
            callable_, (name, _, _), state = obj.__reduce__()
            return callable_, (name, 0, 1), state
        return NotImplemented


def write_python2_npy(path, value):
    """np.save of a 0-d object array holding `value`, as Python 2's numpy wrote it: a version
    1.0 header, then pickle.dump(array, protocol=2)."""
    array = np.empty((), dtype=object)
    array[()] = value
    with open(path, 'wb') as f:
        np.lib.format.write_array_header_1_0(
            f, {'descr': '|O', 'fortran_order': False, 'shape': ()})
        Python2Pickler(f).dump(array)


def check_readable(path, expected):
    """numpy reads the file back as Python 3 reads Python 2 pickles (encoding='latin1')."""
    loaded = np.load(path, allow_pickle=True, encoding='latin1').item()
    assert list(loaded) == list(expected), path
    for name, pair in expected.items():
        for got, want in zip(loaded[name], pair):
            assert got.dtype == np.float32 and np.array_equal(got, want), (path, name)


def inputs(generator, count, size):
    # Pixel values 0-255 in BGR order minus Caffe's mean [104, 117, 123]: the bvlc convention.
    mean = torch.tensor([104.0, 117.0, 123.0]).view(1, 3, 1, 1)
    return (torch.rand(count, 3, size, size, generator=generator) * 255 - mean).numpy()


def small():
    OUT.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(227)
    widths = [w // 16 for w in FULL_WIDTHS]
    classes, input_size = 10, 99
    layers = bvlc_layers(widths, classes, input_size, g)
    write_python2_npy(OUT / 'small_py2.npy', layers)
    np.save(OUT / 'small_py3.npy', layers, allow_pickle=True)
    for name in ['small_py2.npy', 'small_py3.npy']:
        check_readable(OUT / name, layers)
    x = inputs(g, 2, input_size)
    np.save(OUT / 'x.npy', x)
    np.save(OUT / 'logits.npy', logits_from_file_layout(layers, x))
    meta = {
        'preset': 'bvlc', 'widthScale': 1 / 16, 'widths': widths, 'classes': classes,
        'inputSize': input_size, 'pool5': [widths[4], pool5_side(input_size),
                                           pool5_side(input_size)],
        'layouts': {'conv': 'W (kh, kw, in / groups, out)', 'fc': 'W (in, out)',
                    'fc6': "rows in pool5's (h, w, c) order"},
        'shapes': {name: [list(t.shape) for t in pair] for name, pair in layers.items()},
        'reference': 'float32 PyTorch CPU, weights used in the file layouts',
    }
    (OUT / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
    pickles()


def pickles():
    """One structure under protocols 2 to 4, with what the reader must return for it."""
    folder = OUT / 'pickles'
    folder.mkdir(exist_ok=True)
    weight = np.arange(6, dtype='<f4').reshape(2, 3) / 4
    value = {
        'conv1': [weight, np.array([0.5, -1.5], dtype='<f4')],
        'again': weight,  # the same object twice: a memo get
        'double': np.array([0.1, -2.0], dtype='<f8'),
        'ints': (0, 255, 256, 65536, -1, -2**31, 2**40),
        'flags': (None, True, False),
        'float': 0.25,
        'bytes': b'\x00\xffab',
        'text': 'caf\u00e9',
        'empty': [],
    }
    for protocol in [2, 3, 4]:
        (folder / f'protocol{protocol}.pkl').write_bytes(pickle.dumps(value, protocol=protocol))
    expected = {
        'conv1': [{'dtype': 'float32', 'shape': [2, 3], 'data': weight.ravel().tolist()},
                  {'dtype': 'float32', 'shape': [2], 'data': [0.5, -1.5]}],
        'again': {'dtype': 'float32', 'shape': [2, 3], 'data': weight.ravel().tolist()},
        'double': {'dtype': 'float64', 'shape': [2], 'data': [0.1, -2.0]},
        'ints': list(value['ints']),
        'flags': [None, True, False],
        'float': 0.25,
        'bytes': {'bytes': list(value['bytes'])},
        'text': value['text'],
        'empty': [],
    }
    (folder / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')


def full(folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(1000)
    layers = bvlc_layers(FULL_WIDTHS, 1000, 227, g)
    write_python2_npy(folder / 'full_py2.npy', layers)
    x = inputs(g, 2, 227)
    np.save(folder / 'x.npy', x)
    np.save(folder / 'logits.npy', logits_from_file_layout(layers, x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--full', metavar='DIR', help='also write the full-size check to DIR')
    args = parser.parse_args()
    torch.set_num_threads(1)
    small()
    print(OUT)
    if args.full:
        full(args.full)
        print(args.full)


if __name__ == '__main__':
    main()

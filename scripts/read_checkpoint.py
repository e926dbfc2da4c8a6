#!/usr/bin/python3
"""Reads one of our checkpoints the way someone else's code would, to test that it is what the
README says: a safetensors file that PyTorch's load_state_dict takes.

1. The file is parsed with numpy from the format's specification
   (https://github.com/huggingface/safetensors, "Format": an 8-byte little-endian header length,
   a UTF-8 JSON header of {name: {dtype, shape, data_offsets}} and "__metadata__" (string to
   string), then the data, each tensor at [begin, end) of the data section, little-endian, C
   order), independently of lib/io/safetensors.ts. Every rule of the spec is checked.
2. An AlexNet is built in PyTorch from the metadata's model config alone (torch.nn.Conv2d and
   torch.nn.Linear under PyTorch's names: conv1..conv5, fc6..fc8; layer settings from Caffe's
   bvlc_alexnet deploy.prototxt), the weights are loaded with load_state_dict(strict=True), and
   it runs on a seeded random input.

Run: /usr/bin/python3 scripts/read_checkpoint.py CHECKPOINT OUT_DIR [--seed N] [--batch N]
(needs numpy and torch; Debian: apt-get install python3-torch). Writes to OUT_DIR: x.npy (the
input), logits.npy (PyTorch's output), tensors/<name>.npy (every tensor as numpy read it) and
report.json (the header's dtypes, shapes and metadata).
"""
import argparse
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

# The spec's dtypes that a checkpoint may hold, as numpy little-endian types.
DTYPES = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2',
          'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}

# deploy.prototxt: conv (kernel, stride, pad, groups, LRN after, pool after); widths at scale 1.
CONVS = [('conv1', 11, 4, 0, 1, True, True), ('conv2', 5, 1, 2, 2, True, True),
         ('conv3', 3, 1, 1, 1, False, False), ('conv4', 3, 1, 1, 2, False, False),
         ('conv5', 3, 1, 1, 2, False, True)]
BASE_WIDTHS = [96, 256, 384, 384, 256, 4096, 4096]
# LRN over 5 channels, alpha 1e-4 (divided by the size in PyTorch, as in Caffe), beta 0.75;
# k = 1 in Caffe's bvlc model, 2 in the paper (section 3.3).
LRN_K = {'bvlc': 1.0, 'paper': 2.0}


def read_safetensors(path):
    """(tensors, metadata, header) from the file's bytes, checking the spec's rules."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f'{path}: shorter than the 8-byte header length')
    (n,) = struct.unpack('<Q', raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f'{path}: header of {n} bytes overruns the file')
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    metadata = header.pop('__metadata__', {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ValueError(f'{path}: __metadata__ must map strings to strings')
    data = raw[8 + n:]
    tensors = {}
    spans = []
    for name, entry in header.items():
        begin, end = entry['data_offsets']
        dtype = np.dtype(DTYPES[entry['dtype']])
        count = math.prod(entry['shape'])
        if end - begin != count * dtype.itemsize or end > len(data):
            raise ValueError(f'{path}: {name} has offsets {begin}..{end} for {count} {dtype}')
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry['shape'])
        spans.append((begin, end))
    # The spec: the byte buffer is entirely indexed, without holes or overlaps.
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise ValueError(f'{path}: data has a hole or overlap at byte {position}')
        position = end
    if position != len(data):
        raise ValueError(f'{path}: {len(data) - position} bytes after the last tensor')
    return tensors, metadata, header


class AlexNet(torch.nn.Module):
    """AlexNet from a checkpoint's model config; parameter names are the state_dict keys."""

    def __init__(self, config):
        super().__init__()
        scale = config['widthScale']
        # lib/nn/architecture.ts: widths rounded to even (two groups), at least 2; JavaScript's
        # Math.round is floor(x + 0.5).
        widths = [max(2, 2 * math.floor(w * scale / 2 + 0.5)) for w in BASE_WIDTHS]
        channels, size = 3, config['inputSize']
        for (name, kernel, stride, pad, groups, _, pool), width in zip(CONVS, widths):
            self.add_module(name, torch.nn.Conv2d(channels, width, kernel, stride, pad,
                                                  groups=groups))
            channels, size = width, (size + 2 * pad - kernel) // stride + 1
            if pool:
                size = (size - 3) // 2 + 1
        self.fc6 = torch.nn.Linear(channels * size * size, widths[5])
        self.fc7 = torch.nn.Linear(widths[5], widths[6])
        self.fc8 = torch.nn.Linear(widths[6], config['classes'])
        self.lrn_k = LRN_K[config['preset']]

    def forward(self, x):
        for name, *_, lrn, pool in CONVS:
            x = torch.relu(getattr(self, name)(x))
            if lrn:
                x = F.local_response_norm(x, 5, alpha=1e-4, beta=0.75, k=self.lrn_k)
            if pool:
                x = F.max_pool2d(x, kernel_size=3, stride=2)
        # Evaluation: dropout is the identity.
        x = torch.relu(self.fc6(x.flatten(1)))
        x = torch.relu(self.fc7(x))
        return self.fc8(x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch', type=int, default=2)
    args = parser.parse_args()

    tensors, metadata, header = read_safetensors(args.checkpoint)
    config = json.loads(metadata['model'])
    os.makedirs(os.path.join(args.out, 'tensors'), exist_ok=True)
    for name, array in tensors.items():
        np.save(os.path.join(args.out, 'tensors', f'{name}.npy'), array)

    net = AlexNet(config).eval()
    weights = {k: torch.from_numpy(v.copy()) for k, v in tensors.items()
               if not k.startswith('optimizer.')}
    # strict=True: a missing, extra or misshapen tensor is an error, as for a user.
    net.load_state_dict(weights, strict=True)
    size = config['inputSize']
    x = np.random.default_rng(args.seed).uniform(-1, 1, (args.batch, 3, size, size))
    x = x.astype(np.float32)
    with torch.no_grad():
        logits = net(torch.from_numpy(x)).numpy()
    np.save(os.path.join(args.out, 'x.npy'), x)
    np.save(os.path.join(args.out, 'logits.npy'), logits)
    report = {'tensors': {k: {'dtype': v['dtype'], 'shape': v['shape']} for k, v in header.items()},
              'metadata': metadata}
    with open(os.path.join(args.out, 'report.json'), 'w') as f:
        json.dump(report, f, indent=1, sort_keys=True)
    print(f'read {len(tensors)} tensors; PyTorch logits {logits.shape} in {args.out}')


if __name__ == '__main__':
    main()
